-- Synonyms of the classifier's sections and types (classifier/README.md):
-- other words people use for an issue, which the console's classifier
-- search finds it by. One per line; empty when the file lists none.
ALTER TABLE classifier_categories ADD COLUMN type_synonyms TEXT NOT NULL DEFAULT '';
ALTER TABLE classifier_categories ADD COLUMN section_synonyms TEXT NOT NULL DEFAULT '';

-- Where the problem is, as a point on the map (docs/web.md): optional on
-- every card, from the operator's form, the public form or Open311; WGS 84
-- degrees, both or neither (postgres flavour; kept in step with the other).
ALTER TABLE appeals ADD COLUMN latitude double precision
    CHECK (latitude IS NULL OR (latitude BETWEEN -90 AND 90));
ALTER TABLE appeals ADD COLUMN longitude double precision
    CHECK (longitude IS NULL OR (longitude BETWEEN -180 AND 180));
ALTER TABLE appeals ADD CONSTRAINT appeals_place_whole
    CHECK ((latitude IS NULL) = (longitude IS NULL));

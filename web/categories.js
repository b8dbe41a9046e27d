// The classifier's long list as a <select> narrowed by a search box. The
// server ranks the types for what was typed (the type's own name first,
// then its synonyms, its section, its executor; a slip allowed), so the
// first option is the best match and Enter can take it: "освітл" files a
// card under street lighting, not under a lift's cabin lighting that only
// comes first in the file.

import { el } from './dom.js';

export class CategoryPicker {
  /**
   * `select`: the field; `search(query)`: resolves to the matching types'
   * ids, best first; `head()`: the options above the types (the prompt,
   * "не знаю").
   */
  constructor(select, search, head) {
    this.select = select;
    this.search = search;
    this.head = head;
    this.types = [];      // [{id, section, label}] in the classifier's order
    this.ranked = null;   // ids of the latest search, or null: no query
    this.seq = 0;
    this.pending = Promise.resolve();
  }

  setTypes(types) {
    this.types = types;
    this.ranked = null;
    this.render();
  }

  /** Narrows the list to what `query` finds, best first; resolves once
   * shown. An answer overtaken by a later query is dropped. */
  filter(query) {
    const q = query.trim();
    const seq = ++this.seq;
    if (!q) {
      this.ranked = null;
      this.render();
      this.pending = Promise.resolve();
      return this.pending;
    }
    this.pending = this.search(q).then(
      (ids) => { if (seq === this.seq) { this.ranked = ids; this.render(); } },
      // The search unreachable: the whole list, rather than none.
      () => { if (seq === this.seq) { this.ranked = null; this.render(); } });
    return this.pending;
  }

  /** Takes the best match of the latest search (Enter in the search box);
   * whether there was one. */
  async takeBest() {
    await this.pending;
    const best = this.ranked?.[0];
    if (best) this.select.value = best;
    return !!best;
  }

  /** The matches grouped by section, the sections in the order of their
   * best match, so the first option is the best. */
  render() {
    const chosen = this.select.value;
    const byId = new Map(this.types.map((x) => [x.id, x]));
    let list = this.ranked ? this.ranked.map((id) => byId.get(id)).filter(Boolean) : this.types;
    // The chosen type stays whatever the search: a search never drops a
    // choice.
    if (chosen && byId.has(chosen) && !list.some((x) => x.id === chosen)) list = [...list, byId.get(chosen)];
    const groups = new Map();
    for (const x of list) {
      if (!groups.has(x.section)) groups.set(x.section, el('optgroup', { label: x.section }));
      groups.get(x.section).append(el('option', { value: x.id, text: x.label }));
    }
    this.select.replaceChildren(...this.head(), ...groups.values());
    if (chosen && [...this.select.options].some((o) => o.value === chosen)) this.select.value = chosen;
    else if (!chosen && this.ranked && list.length === 1) this.select.value = list[0].id;
  }
}

// report.html: inlined by html.py. The filters hide matrix rows; without this script every row
// shows and the filter form stays hidden, so the page never pretends to filter.
"use strict";
(() => {
  const form = document.getElementById("filters");
  const count = document.getElementById("visible-count");
  const empty = document.getElementById("no-match");
  const clear = document.getElementById("filters-clear");
  if (!form || !count || !empty || !clear) {
    return;
  }
  const rows = Array.from(document.querySelectorAll("#matrix tbody tr[data-requirement]"));
  const fields = ["area", "level", "status"];

  const apply = () => {
    const wanted = fields.map((name) => [name, form.elements[name].value]);
    let shown = 0;
    for (const row of rows) {
      const match = wanted.every(([name, value]) => !value || row.dataset[name] === value);
      row.hidden = !match;
      shown += match ? 1 : 0;
    }
    count.textContent = `Showing ${shown} of ${rows.length} requirements`;
    empty.hidden = shown > 0;
  };

  const showAll = () => {
    for (const name of fields) {
      form.elements[name].value = "";
    }
    apply();
  };

  // A link to a row the filters hide (from a failure's "back to the matrix") shows every row.
  const revealTarget = () => {
    const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (target && target.hidden && rows.includes(target)) {
      showAll();
      target.scrollIntoView();
    }
  };

  form.addEventListener("change", apply);
  form.addEventListener("submit", (event) => event.preventDefault());
  clear.addEventListener("click", showAll);
  window.addEventListener("hashchange", revealTarget);
  form.hidden = false;
  apply();
})();

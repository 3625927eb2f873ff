// report.html's table and detail view. Data: <script id="report-data">, one object
// per image (see html_report.py's _row for the fields). No library, no network.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const rows = data.rows;
  const $ = (selector, root = document) => root.querySelector(selector);
  const el = (tag, props = {}, ...children) => {
    const node = Object.assign(document.createElement(tag), props);
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  };
  const bytes = (v) => {
    if (v === null || v === undefined) return "";
    if (v < 10000) return v.toLocaleString("en") + " B";
    if (v < 1e6) return (v / 1000).toFixed(1) + " kB";
    if (v < 1e9) return (v / 1e6).toFixed(1) + " MB";
    return (v / 1e9).toFixed(1) + " GB";
  };
  const columns = [
    {key: "k", label: "key", cls: "key"},
    {key: "o", label: "outcome"},
    {key: "f", label: "format"},
    {key: "mp", label: "MP", num: true, show: (v) => (v === null ? "" : v < 1 ? v.toPrecision(2) : v.toFixed(1))},
    {key: "i", label: "bytes in", num: true, show: bytes},
    {key: "b", label: "bytes out", num: true, show: bytes},
    {key: "p", label: "saved", num: true, show: (v) => (v === null ? "" : v.toFixed(1) + "%")},
    {key: "q", label: "score", num: true, show: (v) => (v === null ? "" : v.toFixed(2))},
    {key: "e", label: "error", show: (v) => v || ""},
  ];
  const view = {sort: null, dir: 1, page: 0, size: 100, text: "", o: "", f: "", e: ""};
  let shown = rows.map((_, i) => i);
  let selected = null;

  // --- controls ------------------------------------------------------------
  const filters = [["o", "outcome"], ["f", "format"], ["e", "error"]];
  for (const [field, name] of filters) {
    const select = $(`#filter-${name}`);
    const counts = new Map();
    for (const r of rows) if (r[field]) counts.set(r[field], (counts.get(r[field]) || 0) + 1);
    for (const [value, n] of [...counts].sort((a, b) => b[1] - a[1])) {
      select.append(el("option", {value, textContent: `${value} (${n})`}));
    }
    select.addEventListener("change", () => { view[field] = select.value; view.page = 0; update(); });
  }
  $("#filter-text").addEventListener("input", (event) => {
    view.text = event.target.value.toLowerCase(); view.page = 0; update();
  });
  $("#page-size").addEventListener("change", (event) => {
    view.size = Number(event.target.value); view.page = 0; render();
  });
  $("#prev").addEventListener("click", () => { if (view.page > 0) { view.page--; render(); } });
  $("#next").addEventListener("click", () => {
    if ((view.page + 1) * view.size < shown.length) { view.page++; render(); }
  });
  const head = $("#images thead tr");
  for (const column of columns) {
    const th = el("th", {textContent: column.label, className: column.num ? "n" : ""});
    th.dataset.column = column.key;
    th.addEventListener("click", () => sortBy(column.key));
    head.append(th);
  }

  function sortBy(key) {
    view.dir = view.sort === key ? -view.dir : (columns.find((c) => c.key === key).num ? -1 : 1);
    view.sort = key;
    for (const th of head.children) {
      th.setAttribute("aria-sort", th.dataset.column !== key ? "none"
        : view.dir > 0 ? "ascending" : "descending");
    }
    update();
  }

  // --- filter, sort, page ---------------------------------------------------
  function update() {
    shown = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if ((view.o && r.o !== view.o) || (view.f && r.f !== view.f) || (view.e && r.e !== view.e)) {
        continue;
      }
      if (view.text && !r.k.toLowerCase().includes(view.text)) continue;
      shown.push(i);
    }
    if (view.sort) {
      const key = view.sort;
      const dir = view.dir;
      shown.sort((a, b) => {
        const x = rows[a][key], y = rows[b][key];
        if (x === y) return a - b;
        if (x === null || x === undefined || x === "") return 1;  // empty cells last
        if (y === null || y === undefined || y === "") return -1;
        return (x < y ? -1 : 1) * dir;
      });
    }
    render();
  }

  function render() {
    const body = $("#images tbody");
    const first = view.page * view.size;
    const page = shown.slice(first, first + view.size);
    const fragment = document.createDocumentFragment();
    for (const index of page) {
      const r = rows[index];
      const tr = el("tr", {tabIndex: 0});
      tr.dataset.index = index;
      if (index === selected) tr.className = "selected";
      for (const column of columns) {
        const value = r[column.key];
        const td = el("td", {className: (column.num ? "n " : "") + (column.cls || "")});
        if (column.key === "o") td.append(el("span", {className: `badge ${value}`, textContent: value}));
        else td.textContent = column.show ? column.show(value) : value;
        if (column.key === "k") td.title = value;
        tr.append(td);
      }
      tr.addEventListener("click", () => openDetail(index));
      tr.addEventListener("keydown", (event) => { if (event.key === "Enter") openDetail(index); });
      fragment.append(tr);
    }
    body.replaceChildren(fragment);
    const last = Math.min(first + view.size, shown.length);
    $("#range").textContent = shown.length
      ? `rows ${first + 1}-${last} of ${shown.length}` + (shown.length < rows.length ? ` (${rows.length} in all)` : "")
      : `no image matches (${rows.length} in all)`;
    $("#prev").disabled = view.page === 0;
    $("#next").disabled = last >= shown.length;
  }

  // --- detail ---------------------------------------------------------------
  function openDetail(index) {
    selected = index;
    const r = rows[index];
    const detail = $("#detail");
    const facts = el("div", {className: "facts"},
      el("h2", {textContent: r.k}),
      el("div", {}, el("span", {className: `badge ${r.o}`, textContent: r.o}), " " + r.s),
      el("div", {textContent: [r.f, r.mp !== null ? `${r.mp.toFixed(2)} MP` : null,
        r.b !== null ? `${bytes(r.i)} → ${bytes(r.b)} (${r.p.toFixed(1)}% saved)` : bytes(r.i)]
        .filter(Boolean).join(" · ")}),
      r.m ? el("div", {textContent: `method: ${r.m}`}) : null,
      r.r ? el("div", {textContent: `reason: ${r.r}`}) : null,
      r.e ? el("div", {className: "error"}, el("b", {textContent: r.e}), `: ${r.em}`) : null,
      el("div", {className: "execution", textContent: `execution ${r.x || "-"}`}));
    const graph = el("div", {className: "graph"});
    const template = r.g === null ? null : document.getElementById(`graph-${r.g}`);
    if (template) graph.append(template.content.cloneNode(true));
    const close = el("button", {type: "button", className: "close", textContent: "close (Esc)"});
    close.addEventListener("click", closeDetail);
    detail.replaceChildren(close, facts, el("div", {className: "detail-body"}, compare(r), graph));
    detail.hidden = false;
    for (const tr of document.querySelectorAll("#images tbody tr")) {
      tr.classList.toggle("selected", Number(tr.dataset.index) === index);
    }
    detail.scrollTop = 0;
    $(".compare", detail).focus({preventScroll: true});
    history.replaceState(null, "", "#image=" + encodeURIComponent(r.k));
  }

  function closeDetail() {
    $("#detail").hidden = true;
    history.replaceState(null, "", location.pathname + location.search);
    const row = document.querySelector(`#images tbody tr[data-index="${selected}"]`);
    if (row) row.focus();
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#detail").hidden) closeDetail();
  });

  // Original and result at 1:1 or fitted: a slider over both, or a flip between them.
  function compare(r) {
    const box = el("div", {className: "compare"});
    if (!r.a && !r.z) {
      box.append(el("div", {className: "nopreview", textContent: "the original is not available"}));
      return box;
    }
    const pair = Boolean(r.a && r.z);
    const stage = el("div", {className: "stage"});
    const base = el("img", {className: "base", alt: pair ? "compressed" : "original", src: r.z || r.a});
    stage.append(base);
    let top = null, split = null, range = null;
    const which = el("span", {className: "which"});
    if (pair) {
      top = el("img", {className: "top", alt: "original", src: r.a});
      split = el("div", {className: "split"});
      stage.append(top, split);
      range = el("input", {type: "range", min: 0, max: 100, value: 50, step: 0.1});
      range.setAttribute("aria-label", "original on the left of the line, compressed on the right");
    }
    const viewport = el("div", {className: "viewport"}, stage);
    const toolbar = el("div", {className: "toolbar"});
    const state = {mode: pair ? "slider" : "single", zoom: "fit", flipped: false};
    const button = (label, group, value, title) => {
      const b = el("button", {type: "button", textContent: label, title});
      b.dataset.group = group; b.dataset.value = value;
      b.addEventListener("click", () => { state[group] = value; apply(); });
      toolbar.append(b);
      return b;
    };
    if (pair) {
      button("slider", "mode", "slider", "original left of the line, compressed right");
      button("flip", "mode", "flip", "one image at a time: F or the button flips");
    }
    button("fit", "zoom", "fit", "the whole image in the box");
    button("1:1", "zoom", "1", "one image pixel per screen pixel");
    button("2:1", "zoom", "2", "two screen pixels per image pixel");
    let flip = null;
    if (pair) {
      flip = el("button", {type: "button", textContent: "flip (F)"});
      flip.addEventListener("click", () => { state.flipped = !state.flipped; apply(); });
      toolbar.append(flip);
    }
    if (r.q !== null) {
      const target = data.target !== null ? ` (target ${data.target})` : "";
      toolbar.append(el("span", {className: "score", textContent: `SSIMULACRA2 ${r.q.toFixed(2)}${target}`}));
    }
    function apply() {
      for (const b of toolbar.querySelectorAll("button[data-group]")) {
        b.setAttribute("aria-pressed", String(state[b.dataset.group] === b.dataset.value));
      }
      const natural = base.naturalWidth || 0;
      base.style.width = state.zoom === "fit" ? "100%" : natural ? `${natural * Number(state.zoom)}px` : "";
      stage.style.width = state.zoom === "fit" ? "100%" : "";
      stage.classList.toggle("pixelated", state.zoom === "2");
      if (!pair) { which.textContent = "original"; return; }
      if (state.mode === "slider") {
        const v = Number(range.value);
        top.style.visibility = "visible";
        top.style.clipPath = `inset(0 ${100 - v}% 0 0)`;
        split.style.display = "";
        split.style.left = `calc(${v}% - 1px)`;
        range.hidden = false;
        if (flip) flip.hidden = true;
        which.textContent = "original ◀ | ▶ compressed";
      } else {
        top.style.clipPath = "none";
        top.style.visibility = state.flipped ? "hidden" : "visible";
        split.style.display = "none";
        range.hidden = true;
        if (flip) flip.hidden = false;
        which.textContent = state.flipped ? "showing: compressed" : "showing: original";
      }
    }
    if (range) range.addEventListener("input", apply);
    base.addEventListener("load", apply);
    base.addEventListener("error", () => {
      viewport.replaceChildren(el("div", {className: "nopreview",
        textContent: "the browser cannot display this file (or it was moved): " + (r.z || r.a)}));
    });
    box.addEventListener("keydown", (event) => {
      if (pair && (event.key === "f" || event.key === "F")) {
        state.mode = "flip"; state.flipped = !state.flipped; apply();
      }
    });
    box.tabIndex = 0;
    box.append(toolbar, viewport);
    if (range) box.append(range);
    box.append(which);
    apply();
    return box;
  }

  update();
  // #image=<key> opens that image's detail: a link to one image of the run.
  if (location.hash.startsWith("#image=")) {
    const key = decodeURIComponent(location.hash.slice(7));
    const index = rows.findIndex((r) => r.k === key);
    if (index >= 0) openDetail(index);
  }
  window.imgflowReport = {rows, view, update, sortBy, openDetail, shown: () => shown};
})();

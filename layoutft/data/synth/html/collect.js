// Runs in the page after layout. 1) Prunes each .flow container: removes the first block
// that does not fit inside it (or, for a .grp list, its first item that does not) and all
// after it, then any heading left dangling at its end. 2) Returns every [data-l] element that is rendered:
// its class, its fragment rects (getClientRects: one per column/page piece), its line
// rects (a Range over its contents: tight to the text) unless data-g="box", and the page's
// floats. Coordinates are CSS px relative to #page's top-left corner.
() => {
  const page = document.getElementById("page");
  const pr = page.getBoundingClientRect();
  // a block fits when all its fragments lie inside the flow box (overflow goes to extra
  // columns beside it or below it); the first that does not and everything after it go
  const fits = (e, box) =>
    [...e.getClientRects()].every(
      (r) =>
        r.width === 0 ||
        (r.left >= box.left - 1 && r.right <= box.right + 1 &&
         r.top >= box.top - 1 && r.bottom <= box.bottom + 1),
    );
  const cut = (parent, box) => {
    const kids = [...parent.children];
    const i = kids.findIndex((e) => !fits(e, box));
    if (i < 0) return;
    const first = kids[i];
    let from = i;
    if (first.classList.contains("grp") && first.children.length > 1 && fits(first.children[0], box)) {
      cut(first, box);
      from = i + 1;
    }
    for (const e of kids.slice(from)) e.remove();
  };
  for (const flow of document.querySelectorAll(".flow")) {
    for (let pass = 0; pass < 4; pass++) {
      const box = flow.getBoundingClientRect();
      cut(flow, box);
      let tail = flow.lastElementChild;
      while (tail && /^H[1-4]$/.test(tail.tagName)) {
        tail.remove();
        tail = flow.lastElementChild;
      }
      if ([...flow.children].every((e) => fits(e, box))) break;
    }
  }
  const rel = (r) => [r.left - pr.left, r.top - pr.top, r.right - pr.left, r.bottom - pr.top];
  const solid = (r) => r.width > 0.5 && r.height > 0.5;
  const floats = [];
  for (const e of page.querySelectorAll("*")) {
    if (getComputedStyle(e).float !== "none") floats.push(rel(e.getBoundingClientRect()));
  }
  const out = [];
  for (const e of page.querySelectorAll("[data-l]")) {
    const cs = getComputedStyle(e);
    if (cs.display === "none" || cs.visibility === "hidden" || Number(cs.opacity) === 0) continue;
    const frags = [...e.getClientRects()].filter(solid).map(rel);
    let lines = [];
    if (e.dataset.g !== "box") {
      const range = document.createRange();
      range.selectNodeContents(e);
      lines = [...range.getClientRects()].filter(solid).map(rel);
    }
    out.push({ label: e.dataset.l, box: e.dataset.g === "box", frags, lines });
  }
  return { width: pr.width, height: pr.height, floats, elements: out };
}

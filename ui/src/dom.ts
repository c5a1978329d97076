// DOM building by text only: nothing from a transcript or a model is ever parsed as HTML.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") el.className = String(v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

export function clear(el: Node): void {
  while (el.firstChild) el.removeChild(el.firstChild);
}

/** A progress bar with a label and an optional cancel button. */
export function progressBar(label: string, onCancel?: () => void) {
  const bar = h("progress", { max: 100, value: 0 });
  const text = h("span", { class: "progress-label" }, label);
  const cancel = onCancel ? h("button", { class: "link", onclick: () => onCancel() }, "Cancel") : null;
  const el = h("div", { class: "progress" }, text, bar, cancel);
  return {
    el,
    set(pct: number, label?: string) {
      bar.value = pct;
      if (label !== undefined) text.textContent = label;
    },
    finish(label: string, failed = false) {
      bar.value = failed ? bar.value : 100;
      text.textContent = label;
      el.classList.toggle("failed", failed);
      el.classList.add("finished");
      cancel?.remove();
    },
  };
}

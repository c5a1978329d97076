import { describe, expect, it } from "vitest";
import { h, progressBar } from "../src/dom";

describe("building the DOM", () => {
  it("puts transcript and model text in as text, never as markup", () => {
    const el = h("div", {}, "<b>bold</b><script>x()</script>");
    expect(el.children.length).toBe(0);
    expect(el.textContent).toBe("<b>bold</b><script>x()</script>");
  });
  it("wires event handlers and skips false attributes", () => {
    let clicked = 0;
    const b = h("button", { onclick: () => clicked++, disabled: false, "data-x": 3 }, "go");
    b.click();
    expect(clicked).toBe(1);
    expect(b.hasAttribute("disabled")).toBe(false);
    expect(b.dataset.x).toBe("3");
  });
  it("progress bars fill, finish and show failures", () => {
    const p = progressBar("a.srt");
    p.set(40, "a.srt — indexing");
    expect((p.el.querySelector("progress") as HTMLProgressElement).value).toBe(40);
    p.finish("a.srt — bad encoding", true);
    expect(p.el.classList.contains("failed")).toBe(true);
    expect(p.el.textContent).toContain("bad encoding");
  });
});

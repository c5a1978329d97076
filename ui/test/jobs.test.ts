import { describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));
const { dispatch, finished } = await import("../src/api");

describe("job events", () => {
  it("that arrive before anyone follows the job are replayed in order", async () => {
    dispatch({ type: "progress", job: 41, stage: "indexing", done: 1, total: 2 });
    dispatch({ type: "done", job: 41, result: { ok: 1 } });
    const seen: string[] = [];
    await expect(finished(41, (e) => seen.push(e.type))).resolves.toEqual({ ok: 1 });
    expect(seen).toEqual(["progress", "done"]);
  });
  it("turn a failure into a rejected promise with the core's message", async () => {
    const p = finished(42);
    dispatch({ type: "failed", job: 42, message: "the file is not valid UTF-8, UTF-16 or Shift_JIS" });
    await expect(p).rejects.toThrow("Shift_JIS");
  });
  it("stream text only to the job it belongs to", async () => {
    const a: string[] = [];
    const p = finished(43, (e) => e.type === "text" && a.push(e.text));
    dispatch({ type: "text", job: 44, part: "windows", text: "other" });
    dispatch({ type: "text", job: 43, part: "windows", text: "推論" });
    dispatch({ type: "cancelled", job: 43 });
    await expect(p).rejects.toThrow("cancelled");
    expect(a).toEqual(["推論"]);
  });
});

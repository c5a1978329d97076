import { describe, expect, it, vi } from "vitest";
import { byteSize, codePointToUtf16, codePointsToUtf16, debounce, draftWorthOffering, groupByCourse, importProgress, lastAtOrBefore, percent, shortClock, snippet, splitCitations, utf16ToCodePoint } from "../src/text";

describe("code point offsets", () => {
  it("are the same as UTF-16 offsets for Japanese text in the BMP", () => {
    expect(codePointToUtf16("講義の録音", 3)).toBe(3);
  });
  it("count a character outside the BMP once, where UTF-16 counts two units", () => {
    const t = "a😀b講";
    expect(codePointToUtf16(t, 2)).toBe(3);
    expect(codePointToUtf16(t, 4)).toBe(5);
    expect(utf16ToCodePoint(t, 3)).toBe(2);
    for (let cp = 0; cp <= 4; cp++) expect(utf16ToCodePoint(t, codePointToUtf16(t, cp))).toBe(cp);
  });
  it("clamp past the end", () => {
    expect(codePointToUtf16("ab", 10)).toBe(2);
  });
});

describe("citations in an answer", () => {
  it("split into text and numbered marks in ASCII, full-width and lenticular forms", () => {
    expect(splitCitations("推論時に計算を増やす[1]。また［２］【3】")).toEqual([
      { kind: "text", text: "推論時に計算を増やす" },
      { kind: "cite", n: 1, label: "[1]" },
      { kind: "text", text: "。また" },
      { kind: "cite", n: 2, label: "[2]" },
      { kind: "cite", n: 3, label: "[3]" },
    ]);
  });
  it("expand lists like [1, 2] and [1、3]", () => {
    const cites = splitCitations("x [1, 2] y [1、3]").filter((p) => p.kind === "cite").map((p) => (p.kind === "cite" ? p.n : 0));
    expect(cites).toEqual([1, 2, 1, 3]);
  });
  it("leave brackets that hold no number as text", () => {
    expect(splitCitations("[a] and []")).toEqual([{ kind: "text", text: "[a] and []" }]);
  });
  it("never turn markup in model output into elements (the pieces are plain strings)", () => {
    const pieces = splitCitations("<img src=x onerror=alert(1)>[1]");
    expect(pieces[0]).toEqual({ kind: "text", text: "<img src=x onerror=alert(1)>" });
  });
});

describe("formatting", () => {
  it("keeps progress within 0–100 and shows an unknown total as 0", () => {
    expect(percent(5, 10)).toBe(50);
    expect(percent(12, 10)).toBe(100);
    expect(percent(1, 0)).toBe(0);
  });
});

describe("the library", () => {
  it("groups lectures by course, courses sorted, lectures without a course last, each by date", () => {
    const l = (course: string | null, date: string, title: string) => ({ meta: { course, date, title } });
    const g = groupByCourse([l("LLM", "2024-10-02", "day4"), l(null, "2024-01-01", "misc"), l("LLM", "2024-09-01", "day1"), l("AI", "2024-05-05", "x")]);
    expect(g.map(([c, ls]) => [c, ls.map((x) => x.meta.title)])).toEqual([["AI", ["x"]], ["LLM", ["day1", "day4"]], ["", ["misc"]]]);
  });
});

describe("drafts", () => {
  it("are offered back only when they differ from the saved text", () => {
    const head = { id: 2, text: "saved" };
    expect(draftWorthOffering(null, head)).toBe(false);
    expect(draftWorthOffering({ text: "saved", parent: 2 }, head)).toBe(false);
    expect(draftWorthOffering({ text: "typed", parent: 2 }, head)).toBe(true);
  });
  it("are written once typing pauses, and flushed at once when the window closes", () => {
    vi.useFakeTimers();
    const f = vi.fn();
    const d = debounce(f, 700);
    d("a");
    d("ab");
    vi.advanceTimersByTime(699);
    expect(f).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(f).toHaveBeenCalledExactlyOnceWith("ab");
    d("abc");
    d.flush();
    expect(f).toHaveBeenLastCalledWith("abc");
    d.flush();
    expect(f).toHaveBeenCalledTimes(2);
    vi.useRealTimers();
  });
});

describe("recordings", () => {
  it("map many code-point offsets at once, in any order, like one at a time", () => {
    const t = "a😀b講\n義😀";
    const cps = [5, 0, 2, 9, 3, 7];
    expect(codePointsToUtf16(t, cps)).toEqual(cps.map((c) => codePointToUtf16(t, c)));
  });
  it("show positions as m:ss, or h:mm:ss past an hour", () => {
    expect(shortClock(0)).toBe("0:00");
    expect(shortClock(29_400)).toBe("0:29");
    expect(shortClock(3_723_000)).toBe("1:02:03");
  });
  it("find the segment heard at a time", () => {
    const starts = [1000, 6000, 11000];
    expect(lastAtOrBefore(starts, 500)).toBe(-1);
    expect(lastAtOrBefore(starts, 1000)).toBe(0);
    expect(lastAtOrBefore(starts, 10999)).toBe(1);
    expect(lastAtOrBefore(starts, 99999)).toBe(2);
  });
  it("say sizes in bytes, KB, MB", () => {
    expect(byteSize(512)).toBe("512 bytes");
    expect(byteSize(1_234_567)).toBe("1.2 MB");
    expect(byteSize(45_600_000)).toBe("46 MB");
  });
  it("report transcription in seconds of sound with the time left once the pace is known", () => {
    expect(importProgress("reading", 0, 1, 0)).toEqual({ pct: 5, label: "reading" });
    expect(importProgress("transcribing the recording", 12, 47, 100).label).toBe("transcribing the recording: 0:12 of 0:47 of speech");
    expect(importProgress("transcribing the recording", 12, 48, 3000)).toEqual({ pct: 25, label: "transcribing the recording: 0:12 of 0:48 of speech · about 9 s left" });
    expect(importProgress("indexing", 10, 40, 2000).label).toBe("indexing: 10 of 40 · about 6 s left");
    expect(importProgress("transcribing the recording", 26, 38, 800).label).toBe("transcribing the recording: 0:26 of 0:38 of speech · about 1 s left");
    expect(importProgress("transcribing the recording", 60, 5400, 10_000).label).toMatch(/about 15 min left$/);
  });
});

describe("a source's snippet", () => {
  // The passage spans characters 100..160 of its revision; the matched sentence is 130..140.
  const text = "前".repeat(30) + "マッチした文😀です。" + "後".repeat(20);
  it("shows the sentence that matched, counted in code points, with what surrounds it", () => {
    const s = snippet(text, { start: 100, end: 160 }, { start: 130, end: 140 }, 10);
    expect(s.matched).toBe("マッチした文😀です。");
    expect(s.before).toBe("前".repeat(10));
    expect(s.after).toBe("後".repeat(10));
    expect([s.cutStart, s.cutEnd]).toEqual([true, true]);
  });
  it("is not cut where the passage ends", () => {
    const s = snippet(text, { start: 100, end: 160 }, { start: 130, end: 140 }, 100);
    expect(s.before + s.matched + s.after).toBe(text);
    expect([s.cutStart, s.cutEnd]).toEqual([false, false]);
  });
  it("cuts a long matched sentence and falls back to the start when the match is outside", () => {
    expect(snippet(text, { start: 100, end: 160 }, { start: 100, end: 160 }, 10, 5)).toMatchObject({ matched: "前前前前前", after: "", cutEnd: true });
    expect(snippet(text, { start: 100, end: 160 }, { start: 0, end: 0 }, 10, 5).matched).toBe("前前前前前");
  });
});

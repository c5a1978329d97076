// Pure helpers shared by the screens (unit-tested in test/text.test.ts).

/** The core counts characters in Unicode code points; the editor and the DOM count UTF-16 units. */
export function codePointToUtf16(text: string, cp: number): number {
  let units = 0;
  let seen = 0;
  for (const ch of text) {
    if (seen >= cp) break;
    units += ch.length;
    seen += 1;
  }
  return units;
}

export function utf16ToCodePoint(text: string, unit: number): number {
  let units = 0;
  let cps = 0;
  for (const ch of text) {
    if (units >= unit) break;
    units += ch.length;
    cps += 1;
  }
  return cps;
}

export type AnswerPiece = { kind: "text"; text: string } | { kind: "cite"; n: number; label: string };

/** Split an answer into plain text and citation marks: [1], [1, 2], ［１］ and 【1】 forms. */
export function splitCitations(answer: string): AnswerPiece[] {
  const out: AnswerPiece[] = [];
  const re = /[\[［【]\s*([0-9０-９]+(?:\s*[,，、]\s*[0-9０-９]+)*)\s*[\]］】]/g;
  let last = 0;
  for (const m of answer.matchAll(re)) {
    const at = m.index ?? 0;
    if (at > last) out.push({ kind: "text", text: answer.slice(last, at) });
    const numbers = m[1].split(/[,，、]/).map((s) => Number(toAscii(s.trim())));
    for (const n of numbers) out.push({ kind: "cite", n, label: `[${n}]` });
    last = at + m[0].length;
  }
  if (last < answer.length) out.push({ kind: "text", text: answer.slice(last) });
  return out;
}

function toAscii(digits: string): string {
  return digits.replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xff10 + 0x30));
}

/** 3723000 → "01:02:03". */
export function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** Progress as a whole percentage; an unknown total shows as 0. */
export function percent(done: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.max(0, Math.min(100, Math.round((100 * done) / total)));
}

/** Lectures grouped by course (no course last), each group sorted by date then title. */
export function groupByCourse<T extends { meta: { course?: string | null; date?: string | null; title?: string | null } }>(
  lectures: T[],
): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const l of lectures) {
    const c = l.meta.course?.trim() || "";
    if (!groups.has(c)) groups.set(c, []);
    groups.get(c)!.push(l);
  }
  const key = (l: T) => `${l.meta.date ?? "9999"}\u0000${l.meta.title ?? ""}`;
  for (const list of groups.values()) list.sort((a, b) => key(a).localeCompare(key(b)));
  return [...groups.entries()].sort(([a], [b]) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
}

/** Whether a draft is worth offering back: it exists and differs from the saved text it started from. */
export function draftWorthOffering(draft: { text: string; parent: number } | null, head: { id: number; text: string }): boolean {
  return !!draft && draft.text !== head.text;
}

/** Debounce: run `f` once calls have stopped for `ms` milliseconds; `flush` runs a pending call now. */
export function debounce<A extends unknown[]>(f: (...a: A) => void, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pending: A | undefined;
  const run = () => {
    timer = undefined;
    const a = pending;
    pending = undefined;
    if (a) f(...a);
  };
  const call = (...a: A) => {
    pending = a;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  call.flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    run();
  };
  return call;
}

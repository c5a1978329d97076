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

/** Many code-point offsets into UTF-16 offsets in one pass over the text (a long lecture has
 * thousands of segments). */
export function codePointsToUtf16(text: string, cps: number[]): number[] {
  const order = cps.map((_, i) => i).sort((a, b) => cps[a] - cps[b]);
  const out = new Array<number>(cps.length);
  let units = 0;
  let seen = 0;
  let k = 0;
  for (const ch of text) {
    while (k < order.length && cps[order[k]] <= seen) out[order[k++]] = units;
    units += ch.length;
    seen += 1;
  }
  while (k < order.length) out[order[k++]] = units;
  return out;
}

/** 29000 → "0:29"; 3723000 → "1:02:03" (a recording's position). */
export function shortClock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${Math.floor(s / 60)}:${pad(s % 60)}`;
}

/** The index of the last of `starts` (ascending) at or before `t`; -1 when `t` is before them all. */
export function lastAtOrBefore(starts: number[], t: number): number {
  let lo = 0;
  let hi = starts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** 1234567 → "1.2 MB". */
export function byteSize(n: number): string {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** An import job's progress line: recordings report their phases in seconds of sound, so the line
 * says how far it is and, once the pace is known, about how long is left. */
export function importProgress(stage: string, done: number, total: number, phaseMs: number): { pct: number; label: string } {
  if (!(total > 1)) return { pct: 5, label: stage };
  // Transcribing counts only the stretches with speech in them.
  const seconds = stage === "reading" || stage.startsWith("transcribing");
  const speech = stage.startsWith("transcribing") ? " of speech" : "";
  const where = seconds ? `${shortClock(done * 1000)} of ${shortClock(total * 1000)}${speech}` : `${done} of ${total}`;
  // One step of real work gives the pace; only the first instants of a phase are too short to trust
  // (a fast machine finishes a recording's first 30-s window well inside a second).
  const left = done > 0 && done < total && phaseMs >= 250 ? ` · about ${roughly((phaseMs * (total - done)) / done)} left` : "";
  return { pct: percent(done, total), label: `${stage}: ${where}${left}` };
}

function roughly(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s < 90 ? `${s} s` : `${Math.round(s / 60)} min`;
}

export type Snippet = { before: string; matched: string; after: string; cutStart: boolean; cutEnd: boolean };

/**
 * What a source shows of its passage: the sentence that matched the question (offsets in code points,
 * absolute like the passage's span), with up to `around` characters each side and ellipses where cut.
 * A long matched sentence is cut at `most` characters.
 */
export function snippet(text: string, span: { start: number; end: number }, matched: { start: number; end: number }, around = 70, most = 200): Snippet {
  const chars = Array.from(text);
  const clamp = (x: number) => Math.max(0, Math.min(chars.length, x));
  let s = clamp(matched.start - span.start);
  let e = clamp(matched.end - span.start);
  if (e <= s) [s, e] = [0, Math.min(chars.length, most)];
  const cutMatched = e - s > most;
  if (cutMatched) e = s + most;
  const from = clamp(s - around);
  const to = cutMatched ? e : clamp(e + around);
  return {
    before: chars.slice(from, s).join(""),
    matched: chars.slice(s, e).join(""),
    after: chars.slice(e, to).join(""),
    cutStart: from > 0,
    cutEnd: to < chars.length,
  };
}

import { afterEach, describe, expect, it, vi } from "vitest";
import { nudgeStalledClock } from "../src/player";

/** A media element's clock as the watchdog reads it; a seek is recorded. */
function clock(t: number) {
  const seeks: number[] = [];
  const restarts: string[] = [];
  let time = t;
  const a = {
    paused: false,
    seeking: false,
    ended: false,
    readyState: HTMLMediaElement.HAVE_ENOUGH_DATA as number,
    dataset: {} as Record<string, string>,
    get currentTime() {
      return time;
    },
    set currentTime(v: number) {
      seeks.push(v);
      time = v;
    },
    advance(s: number) {
      time += s;
    },
    pause() {
      restarts.push("pause");
      a.paused = true;
    },
    play() {
      restarts.push("play");
      a.paused = false;
      return Promise.resolve();
    },
  };
  return { a, seeks, restarts };
}

describe("the player's stalled clock", () => {
  afterEach(() => vi.useRealTimers());

  it("is nudged with a seek to where it stands once it has not moved for 1.5 s, then restarted, and counted", () => {
    vi.useFakeTimers();
    const { a, seeks, restarts } = clock(29.01);
    const stop = nudgeStalledClock(a as unknown as HTMLMediaElement);
    vi.advanceTimersByTime(1500);
    expect(seeks).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(seeks).toEqual([29.01]);
    expect(a.dataset.nudges).toBe("1");
    // Still frozen: stopped and started again.
    vi.advanceTimersByTime(1500);
    expect(restarts).toEqual(["pause", "play"]);
    expect(a.dataset.nudges).toBe("2");
    // Moving again: the next stall starts with a seek.
    a.advance(0.5);
    vi.advanceTimersByTime(2500);
    expect(seeks).toEqual([29.01, 29.51]);
    stop();
    vi.advanceTimersByTime(5000);
    expect(seeks).toEqual([29.01, 29.51]);
    expect(a.dataset.nudges).toBe("3");
  });

  it("is nudged too when the stall leaves only the current frame's data (readyState 2)", () => {
    vi.useFakeTimers();
    const { a, seeks } = clock(29.010754651);
    a.readyState = HTMLMediaElement.HAVE_CURRENT_DATA;
    const stop = nudgeStalledClock(a as unknown as HTMLMediaElement);
    vi.advanceTimersByTime(2000);
    stop();
    expect(seeks).toEqual([29.010754651]);
    expect(a.dataset.nudges).toBe("1");
  });

  it("is left alone while it moves, is paused, seeking or still loading", () => {
    vi.useFakeTimers();
    const { a, seeks } = clock(3);
    const stop = nudgeStalledClock(a as unknown as HTMLMediaElement);
    for (let i = 0; i < 20; i++) {
      a.advance(0.5);
      vi.advanceTimersByTime(500);
    }
    a.paused = true;
    vi.advanceTimersByTime(5000);
    a.paused = false;
    a.seeking = true;
    vi.advanceTimersByTime(5000);
    a.seeking = false;
    a.readyState = HTMLMediaElement.HAVE_METADATA;
    vi.advanceTimersByTime(5000);
    stop();
    expect(seeks).toEqual([]);
    expect(a.dataset.nudges).toBeUndefined();
  });
});

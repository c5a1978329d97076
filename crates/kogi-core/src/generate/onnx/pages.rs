//! A loaded model's packed weights moved into 2 MB pages. A decode step streams every weight once;
//! in 4 KB pages a 1.5B model's 1.4 GB are 350,000 pages a step, far more than the TLB holds. Where
//! transparent huge pages are `madvise` only (Debian's and Ubuntu's default) nothing asks for larger
//! ones, and the weights sit in the allocator's heap, in pages that loading already touched while it
//! read the file, so advice before packing finds them small. `MADV_COLLAPSE` (Linux 6.1+) moves
//! pages that already hold data, so it is asked for after loading, off the caller's thread.
//! Measured (Zen 5, Qwen2-1.5B Q4_K_M, two threads, both copies in one process, alternated): decode
//! +6–7% in a steady machine.

use std::ops::Range;

const HUGE: usize = 2 << 20;

/// `spans` (address ranges of live buffers) merged where they lie within a huge page of each other,
/// then cut to whole huge pages: what is worth moving.
pub fn huge_ranges(mut spans: Vec<Range<usize>>) -> Vec<Range<usize>> {
    spans.sort_by_key(|s| s.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for s in spans.into_iter().filter(|s| !s.is_empty()) {
        match merged.last_mut() {
            Some(last) if s.start <= last.end + HUGE => last.end = last.end.max(s.end),
            _ => merged.push(s),
        }
    }
    merged.into_iter().map(|r| r.start.next_multiple_of(HUGE)..r.end / HUGE * HUGE).filter(|r| r.start < r.end).collect()
}

/// Whether the system lets kogi ask: not where transparent huge pages are `never` (the
/// administrator's word) or `KOGI_HUGE_PAGES=off`.
fn allowed() -> bool {
    let never = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").map_or(true, |s| s.contains("[never]"));
    !never && std::env::var("KOGI_HUGE_PAGES").map_or(true, |v| v != "off")
}

/// Moves `spans` into huge pages now, one huge page per request, so that a range the kernel refuses
/// (not anonymous memory, no free 2 MB block) costs only itself. Contents never change. Returns the
/// bytes moved.
#[cfg(test)]
pub fn collapse(spans: Vec<Range<usize>>) -> usize {
    if !cfg!(target_os = "linux") || !allowed() {
        return 0;
    }
    collapse_allowed(spans)
}

fn collapse_allowed(spans: Vec<Range<usize>>) -> usize {
    let mut moved = 0;
    for r in huge_ranges(spans) {
        for at in r.step_by(HUGE) {
            if advise(at) {
                moved += HUGE;
            }
        }
    }
    moved
}

#[cfg(target_os = "linux")]
fn advise(at: usize) -> bool {
    // SAFETY: advice on whole pages of live buffers: neither call changes what they hold or who
    // owns them; a refused call leaves the pages as they were.
    unsafe {
        libc::madvise(at as *mut libc::c_void, HUGE, libc::MADV_HUGEPAGE);
        libc::madvise(at as *mut libc::c_void, HUGE, libc::MADV_COLLAPSE) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_: usize) -> bool {
    false
}

/// [`collapse`] on a thread of its own at the lowest priority, so that a question asked at once is
/// not slowed by it; `keep` holds the buffers alive until it is done.
pub fn collapse_in_background(spans: Vec<Range<usize>>, keep: impl Send + 'static) {
    if spans.is_empty() || !allowed() {
        return;
    }
    let spawned = std::thread::Builder::new().name("kogi-huge-pages".into()).spawn(move || {
        #[cfg(target_os = "linux")]
        // SAFETY: changes this thread's own priority only.
        unsafe {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19);
        }
        let t = std::time::Instant::now();
        let moved = collapse_allowed(spans);
        tracing::debug!(mb = moved >> 20, ms = t.elapsed().as_millis() as u64, "weights moved into huge pages");
        drop(keep);
    });
    if let Err(e) = spawned {
        tracing::debug!(%e, "weights stay in small pages");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_buffers_merge_and_only_whole_huge_pages_are_asked_for() {
        let m = |x: usize| x << 20;
        // Two buffers a few KB apart become one range; one far away stays apart; one smaller than
        // a huge page once aligned is left out.
        let spans = vec![m(10)..m(20) + 5, m(20) + 4096..m(31), m(100) + 1..m(101), m(201)..m(208)];
        assert_eq!(huge_ranges(spans), vec![m(10)..m(30), m(202)..m(208)]);
        assert!(huge_ranges(vec![m(3)..m(3)]).is_empty());
    }

    #[test]
    fn collapsing_a_buffer_keeps_what_it_holds() {
        let v: Vec<u64> = (0..3 << 20).map(|i| i * 2654435761).collect();
        let r = v.as_ptr_range();
        let moved = collapse(vec![r.start as usize..r.end as usize]);
        assert!(moved <= v.len() * 8, "{moved} bytes moved of {}", v.len() * 8);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 2654435761));
    }
}

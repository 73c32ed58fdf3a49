//! Batch work on rayon's pool, only where a batch is large enough to pay
//! for it.
//!
//! Handing a batch to the pool wakes its threads, moves the work off the
//! calling thread and leaves the woken threads spinning for more before they
//! sleep. For the few items of a diff (two to four signatures) that costs more
//! CPU than the work itself, on a box where five signers and a coordinator
//! share two cores: a profile of one-RRset diffs put a fifth of every
//! process's CPU in rayon's idle loop. Small batches therefore stay on the
//! calling thread; whole versions still use every core.

use rayon::iter::{FromParallelIterator, IndexedParallelIterator, IntoParallelRefIterator, ParallelIterator};

/// Batches shorter than this run on the calling thread.
pub const PARALLEL_MIN_ITEMS: usize = 32;

/// `f(index, item)` for every item, collected in item order (into a `Vec`,
/// or a `Result<Vec<_>, _>` that stops at an error); on the pool only for
/// batches of [`PARALLEL_MIN_ITEMS`] or more.
pub fn collect_indexed<T, R, C, F>(items: &[T], f: F) -> C
where
    T: Sync,
    R: Send,
    C: FromIterator<R> + FromParallelIterator<R>,
    F: Fn(usize, &T) -> R + Sync + Send,
{
    if items.len() < PARALLEL_MIN_ITEMS {
        items.iter().enumerate().map(|(i, item)| f(i, item)).collect()
    } else {
        items.par_iter().enumerate().map(|(i, item)| f(i, item)).collect()
    }
}

/// The first item, in item order, for which `f` gives `Some`; on the pool
/// only for batches of [`PARALLEL_MIN_ITEMS`] or more.
pub fn find_map_first_indexed<'a, T, R, F>(items: &'a [T], f: F) -> Option<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &'a T) -> Option<R> + Sync + Send,
{
    if items.len() < PARALLEL_MIN_ITEMS {
        items.iter().enumerate().find_map(|(i, item)| f(i, item))
    } else {
        items.par_iter().enumerate().find_map_first(|(i, item)| f(i, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_batches_give_the_same_results_in_order() {
        for len in [0, 1, PARALLEL_MIN_ITEMS - 1, PARALLEL_MIN_ITEMS, 1000] {
            let items: Vec<usize> = (0..len).collect();
            let doubled: Vec<usize> = collect_indexed(&items, |i, x| i + x);
            assert_eq!(doubled, (0..len).map(|x| 2 * x).collect::<Vec<_>>());
            let all: Result<Vec<usize>, usize> = collect_indexed(&items, |_, &x| Ok(x));
            assert_eq!(all, Ok(items.clone()));
            let failed: Result<Vec<usize>, usize> = collect_indexed(&items, |_, &x| if x == 0 { Err(x) } else { Ok(x) });
            assert_eq!(failed.is_err(), len > 0);
            // The first match in item order, however the work was split.
            let first = find_map_first_indexed(&items, |i, &x| (x % 7 == 3).then_some(i));
            assert_eq!(first, (len > 3).then_some(3));
        }
    }
}

//! Progress on stderr for long runs, silent when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar counting signatures.
pub fn signatures(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    // indicatif hides itself when stderr is not a terminal.
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>12} [{bar:40}] {pos}/{len} signatures ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

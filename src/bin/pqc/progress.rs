//! Progress on a terminal, silence elsewhere.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Whether progress may be drawn (on stderr): not `--quiet`, and both
/// stdout and stderr are terminals, so piped or redirected runs stay quiet.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// A bar counting `total` items, hidden when progress is off.
pub fn bar(show: bool, total: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {what} [{{bar:40}}] {{human_pos}}/{{human_len}} ({{per_sec}}, {{eta}} left)"
    );
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// A spinner for a step of unknown length.
pub fn spinner(show: bool, message: impl Into<String>) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let spinner = ProgressBar::new_spinner().with_message(message.into());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

/// A bar of the bytes a load has parsed, a spinner until it knows how many
/// there are (a compressed CSV never says); `feed` gives it to the loader.
pub fn loading(show: bool, what: impl Into<String>) -> ProgressBar {
    let bar = spinner(show, what);
    if show {
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    bar
}

/// The loader's callback that moves `bar`.
pub fn feed(bar: &ProgressBar) -> impl Fn(u64, Option<u64>) + Send + Sync + 'static {
    let bar = bar.clone();
    move |done, total| {
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);
    }
}

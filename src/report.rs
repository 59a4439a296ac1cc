//! How a run speaks: the [`Log`] every line goes through (so the runner sees lines in the order
//! they happen, each secret's `::add-mask::` first), and [`fail`], the one place where an error
//! and its hints are rendered: one `::error` annotation in a workflow, `error:` on a terminal.

use std::cell::RefCell;
use std::io::Write;
use std::process::ExitCode;

use crate::action::workflow;
use crate::error::{self, AppError};
use crate::exchange::Progress;
use crate::onboarding::diagnosis::HintContext;
use crate::secret::Secret;

/// The title of the one `::error` annotation.
pub const ERROR_TITLE: &str = "azure-oidc-token";

/// How a failure is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorStyle {
    /// One `::error` workflow command, then hints (action mode, or any command inside GitHub Actions).
    Workflow,
    /// `error: …`, then hints (a terminal or another CI system).
    Plain,
}

impl ErrorStyle {
    /// The style of a command's errors: workflow commands only where a runner reads them.
    pub fn for_commands(in_actions: bool) -> Self {
        if in_actions {
            Self::Workflow
        } else {
            Self::Plain
        }
    }
}

/// Where log lines go, and whether secrets get `::add-mask::` lines (only where a runner reads them).
pub struct Log<'a, W: Write> {
    out: RefCell<&'a mut W>,
    masking: bool,
    debug: bool,
}

impl<'a, W: Write> Log<'a, W> {
    /// A log writing to `out`.
    pub fn new(out: &'a mut W, masking: bool, debug: bool) -> Self {
        Self {
            out: RefCell::new(out),
            masking,
            debug,
        }
    }

    /// A plain line, made inert for the runner's command parsers (it may quote server text).
    pub fn say(&self, line: &str) {
        let _ = workflow::plain(*self.out.borrow_mut(), line);
    }

    /// A `::warning` annotation.
    pub fn warning(&self, message: &str) {
        let _ = workflow::warning(*self.out.borrow_mut(), message);
    }

    /// `::add-mask::` for `secret`, flushed at once.
    pub fn mask(&self, secret: &Secret) {
        if self.masking {
            let _ = workflow::add_mask(*self.out.borrow_mut(), secret);
        }
    }

    /// Lines that quote claims or server text, fenced so the runner runs none of them.
    pub fn inert(&self, lines: &[String]) {
        let _ = workflow::write_inert(*self.out.borrow_mut(), lines);
    }

    /// The sink back.
    pub fn into_inner(self) -> &'a mut W {
        self.out.into_inner()
    }
}

impl<W: Write> Progress for Log<'_, W> {
    fn secret(&self, secret: &Secret) {
        self.mask(secret);
    }

    fn note(&self, line: &str) {
        self.say(line);
    }

    fn debug(&self, line: &str) {
        if self.debug {
            let _ = workflow::debug(*self.out.borrow_mut(), line);
        }
    }
}

/// Reports `error` with its hints in `style` and returns exit status 1. `context` is what the run
/// was configured with, when it got that far (the hints name it).
pub fn fail(
    out: &mut impl Write,
    error: &AppError,
    context: Option<&HintContext<'_>>,
    style: ErrorStyle,
) -> ExitCode {
    // If the stream itself is gone there is nobody left to tell; the exit status still says it.
    let message = match (error, style) {
        (AppError::Config(config_error), ErrorStyle::Plain) => config_error.cli_message(),
        _ => error.to_string(),
    };
    match style {
        ErrorStyle::Workflow => {
            let _ = workflow::error(out, ERROR_TITLE, &message);
        }
        ErrorStyle::Plain => {
            let _ = workflow::plain(out, &format!("error: {message}"));
        }
    }
    let hints = error::hints(error, context);
    if error.hints_quote_claims() && style == ErrorStyle::Workflow {
        // These hints quote token claims: keep the runner from reading any of it as a command.
        let _ = workflow::write_inert(out, &hints);
    } else {
        for hint in hints {
            let _ = workflow::plain(out, &hint);
        }
    }
    let _ = out.flush();
    ExitCode::FAILURE
}

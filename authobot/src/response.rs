//! The response-phase decision (`AuthZPlugin.AuthZRes`), kept apart from the request phase.
//!
//! Everything that must be refused is refused in the request phase, so the response phase
//! allows: a response-phase deny cannot undo what the daemon already did (a created
//! container stays), and streamed or hijacked responses arrive here empty. What it does is
//! learn ownership from the daemon's successful answers ([`Answer::decide`]); the plugin
//! wrapper records the changes before it answers. Each message is routed once
//! ([`Answer::new`]): that route tells whether the answer can teach anything at all, and
//! the audit line reuses it.

use protocol::route::{self, Route};
use protocol::AuthzRequest;

use crate::decision::{Decision, FieldLog, Routed};
use crate::ownership::learn::Lesson;
use crate::ownership::rules::OWNERSHIP_STORE;
use crate::ownership::{Change, NothingOwned, OwnershipView};

/// The rule name of response-phase allows.
pub const RESPONSE_PHASE: &str = "response-phase";

/// A response-phase message, routed once, with what its answer can teach.
#[derive(Debug)]
pub struct Answer<'a> {
    request: &'a AuthzRequest,
    /// `None` when the target does not route (nothing to learn; the audit says so).
    route: Option<Route>,
    lesson: Option<Lesson>,
}

impl<'a> Answer<'a> {
    /// Routes `request` and finds what its answer can teach.
    pub fn new(request: &'a AuthzRequest) -> Answer<'a> {
        let route = route::parse(&request.request_method, &request.request_uri).ok();
        let lesson = route
            .as_ref()
            .and_then(|route| Lesson::taught(request, route));
        Answer {
            request,
            route,
            lesson,
        }
    }

    /// Whether the answer can change the ownership record: a 2xx answer to one of the
    /// routes learning reads. Any other answer is decided without the record.
    pub fn teaches(&self) -> bool {
        self.lesson.is_some()
    }

    /// Decides the answer and returns the ownership changes it teaches, resolved against
    /// `owners`; `now` (Unix seconds) stamps what is learned.
    pub fn decide(
        &self,
        owners: &dyn OwnershipView,
        now: u64,
        mut log: FieldLog,
    ) -> (Decision, Vec<Change>) {
        log.read("ResponseStatusCode", self.request.response_status_code);
        let (Some(lesson), Some(route)) = (self.lesson, &self.route) else {
            return (
                Decision::allow(RESPONSE_PHASE, log.into_fields()),
                Vec::new(),
            );
        };
        match lesson.teach(self.request, route, owners, now) {
            Ok(changes) => {
                if !changes.is_empty() {
                    log.read("ownership.changes", &changes);
                }
                (Decision::allow(RESPONSE_PHASE, log.into_fields()), changes)
            }
            Err(e) => (
                Decision::deny(
                    OWNERSHIP_STORE,
                    "recording who owns the object this call touched",
                    &format!("the ownership record cannot be read ({e})"),
                    log.into_fields(),
                ),
                Vec::new(),
            ),
        }
    }

    /// The route, for the audit line.
    pub fn into_routed(self) -> Option<Box<Routed>> {
        self.route.map(|route| Box::new(Routed::from(route)))
    }
}

/// Decides the response phase of one API call with nothing recorded as owned. The response
/// phase reads no policy: everything a policy refuses is refused in the request phase.
pub fn decide_response(request: &AuthzRequest) -> Decision {
    learn_response(request, &NothingOwned, 0).0
}

/// Decides the response phase of one API call and returns the ownership changes its answer
/// teaches, resolved against `owners`, keeping the fields read (for `explain` and tests);
/// `now` (Unix seconds) stamps what is learned.
pub fn learn_response(
    request: &AuthzRequest,
    owners: &dyn OwnershipView,
    now: u64,
) -> (Decision, Vec<Change>) {
    Answer::new(request).decide(owners, now, FieldLog::recording())
}

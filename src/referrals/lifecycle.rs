//! The referral state machine (api.md, "Referrals"): which moves exist, who may make each,
//! and what a move must carry. Pure: no I/O, so every (state, target, actor) is tested.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Requested,
    Accepted,
    Rejected,
    Cancelled,
    InProgress,
    OnHold,
    Completed,
    Failed,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Requested,
        Status::Accepted,
        Status::Rejected,
        Status::Cancelled,
        Status::InProgress,
        Status::OnHold,
        Status::Completed,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::InProgress => "in_progress",
            Status::OnHold => "on_hold",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// A final state has no way out; client details are purged some time after reaching one.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Rejected | Status::Cancelled | Status::Completed | Status::Failed
        )
    }

    /// The states a referral may move to from this one.
    pub fn next(self) -> &'static [Status] {
        use Status::*;
        match self {
            Requested => &[Accepted, Rejected, Cancelled],
            Accepted => &[InProgress, OnHold, Completed, Cancelled],
            InProgress => &[OnHold, Completed, Failed, Cancelled],
            OnHold => &[InProgress, Failed, Cancelled],
            Rejected | Cancelled | Completed | Failed => &[],
        }
    }

    /// Which side sets this state: the sender withdraws, the receiver does everything else.
    pub fn set_by(self) -> Side {
        match self {
            Status::Cancelled => Side::Sender,
            _ => Side::Receiver,
        }
    }

    /// Whether moving here needs a `reason`.
    pub fn needs_reason(self) -> bool {
        matches!(self, Status::Rejected | Status::Cancelled | Status::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Sender,
    Receiver,
}

/// The caller's part in a referral (an organisation referring to itself is both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub sender: bool,
    pub receiver: bool,
}

impl Actor {
    fn is(self, side: Side) -> bool {
        match side {
            Side::Sender => self.sender,
            Side::Receiver => self.receiver,
        }
    }
}

/// Why a move is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such move from this state (409).
    Illegal { from: Status, to: Status },
    /// The move exists, but the other side makes it (403).
    OtherSide { to: Status, side: Side },
    /// `reason` is required for this move (400).
    ReasonRequired,
    /// `outcome` belongs only to the end of the receiver's work: `completed`, or `failed`,
    /// since a client's own goal may be partly met by a referral that did not succeed (400).
    OutcomeNotAnEnd,
}

/// Decides one move. `reason` and `outcome` say whether the request carries them.
pub fn decide(
    from: Status,
    to: Status,
    actor: Actor,
    reason: bool,
    outcome: bool,
) -> Result<(), Refusal> {
    if !from.next().contains(&to) {
        return Err(Refusal::Illegal { from, to });
    }
    if !actor.is(to.set_by()) {
        return Err(Refusal::OtherSide {
            to,
            side: to.set_by(),
        });
    }
    if to.needs_reason() && !reason {
        return Err(Refusal::ReasonRequired);
    }
    if outcome && !matches!(to, Status::Completed | Status::Failed) {
        return Err(Refusal::OutcomeNotAnEnd);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// The moves of api.md, written out independently of `next` and `set_by`.
    const MOVES: &[(Status, Status, Side)] = &[
        (Requested, Accepted, Side::Receiver),
        (Requested, Rejected, Side::Receiver),
        (Requested, Cancelled, Side::Sender),
        (Accepted, InProgress, Side::Receiver),
        (Accepted, OnHold, Side::Receiver),
        (Accepted, Completed, Side::Receiver),
        (Accepted, Cancelled, Side::Sender),
        (InProgress, OnHold, Side::Receiver),
        (InProgress, Completed, Side::Receiver),
        (InProgress, Failed, Side::Receiver),
        (InProgress, Cancelled, Side::Sender),
        (OnHold, InProgress, Side::Receiver),
        (OnHold, Failed, Side::Receiver),
        (OnHold, Cancelled, Side::Sender),
    ];

    const SENDER: Actor = Actor {
        sender: true,
        receiver: false,
    };
    const RECEIVER: Actor = Actor {
        sender: false,
        receiver: true,
    };
    const BOTH: Actor = Actor {
        sender: true,
        receiver: true,
    };

    #[test]
    fn every_state_target_and_actor() {
        for from in Status::ALL {
            for to in Status::ALL {
                let side = MOVES
                    .iter()
                    .find(|(f, t, _)| *f == from && *t == to)
                    .map(|(_, _, s)| *s);
                for (actor, name) in [(SENDER, "sender"), (RECEIVER, "receiver"), (BOTH, "both")] {
                    let got = decide(from, to, actor, true, false);
                    let want = match side {
                        None => Err(Refusal::Illegal { from, to }),
                        Some(s) if !actor.is(s) => Err(Refusal::OtherSide { to, side: s }),
                        Some(_) => Ok(()),
                    };
                    assert_eq!(got, want, "{from:?} -> {to:?} by {name}");
                }
            }
        }
    }

    #[test]
    fn final_states_have_no_way_out() {
        for s in Status::ALL {
            assert_eq!(s.is_final(), s.next().is_empty(), "{s:?}");
        }
        assert_eq!(
            Status::ALL.iter().filter(|s| s.is_final()).count(),
            4,
            "rejected, cancelled, completed, failed"
        );
    }

    #[test]
    fn reasons_are_required_for_rejected_cancelled_and_failed() {
        for (from, to, side) in MOVES {
            let actor = if *side == Side::Sender {
                SENDER
            } else {
                RECEIVER
            };
            let got = decide(*from, *to, actor, false, false);
            if matches!(to, Rejected | Cancelled | Failed) {
                assert_eq!(got, Err(Refusal::ReasonRequired), "{from:?} -> {to:?}");
            } else {
                assert_eq!(got, Ok(()), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn an_outcome_goes_only_with_completed() {
        assert_eq!(decide(Accepted, Completed, RECEIVER, false, true), Ok(()));
        assert_eq!(decide(InProgress, Completed, RECEIVER, false, true), Ok(()));
        assert_eq!(decide(InProgress, Failed, RECEIVER, true, true), Ok(()));
        for (from, to, actor) in [
            (Requested, Accepted, RECEIVER),
            (Accepted, OnHold, RECEIVER),
            (Accepted, Cancelled, SENDER),
        ] {
            assert_eq!(
                decide(from, to, actor, true, true),
                Err(Refusal::OutcomeNotAnEnd)
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(Status::parse("done"), None);
    }
}

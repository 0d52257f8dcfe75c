//! The call actor: one per active call. It keeps the call's context and the holds it made, ends
//! itself after a period of silence, and releases its holds whenever it ends, so an abandoned
//! call never blocks a slot for longer than the idle timeout (or the hold's own expiry).

use crate::domain::calendar::HoldId;
use crate::domain::*;
use crate::metrics as m;
use crate::staff::{ReleaseHoldsOf, StaffActor};
use actix::prelude::*;
use std::time::Duration;

/// What the engine knows about a call in progress.
#[derive(Clone, Debug, PartialEq)]
pub struct CallContext {
    /// Retell's call id.
    pub call_id: CallId,
    /// Company.
    pub company_id: CompanyId,
    /// Branch it was routed to.
    pub branch_id: BranchId,
    /// Caller.
    pub caller: Option<E164Number>,
    /// Conversation language.
    pub language: Language,
    /// Known customer.
    pub customer_id: Option<CustomerId>,
}

/// Runs once when a call actor stops (the registry forgets the call there).
pub type OnCallStop = Box<dyn FnOnce(&CallId) + Send>;

/// One active call.
pub struct CallActor {
    context: CallContext,
    holds: Vec<(HoldId, Addr<StaffActor>)>,
    bookings: CallBookings,
    idle_timeout: Duration,
    idle_timer: Option<SpawnHandle>,
    on_stop: Option<OnCallStop>,
}

impl CallActor {
    /// A call actor; `on_stop` runs once when it ends (the registry forgets it there).
    pub fn new(context: CallContext, idle_timeout: Duration, on_stop: OnCallStop) -> Self {
        Self {
            context,
            holds: Vec::new(),
            bookings: CallBookings::default(),
            idle_timeout,
            idle_timer: None,
            on_stop: Some(on_stop),
        }
    }

    fn reset_idle_timer(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.idle_timer.take() {
            ctx.cancel_future(timer);
        }
        self.idle_timer = Some(ctx.run_later(self.idle_timeout, |actor, ctx| {
            tracing::info!(call_id = %actor.context.call_id, "call idle; ending it and releasing its holds");
            ctx.stop();
        }));
    }
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics::gauge!(m::ACTIVE_CALLS).increment(1.0);
        self.reset_idle_timer(ctx);
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics::gauge!(m::ACTIVE_CALLS).decrement(1.0);
        let mut released = Vec::new();
        for (_, staff) in self.holds.drain(..) {
            // One release per staff actor covers all of this call's holds there.
            if !released.iter().any(|a: &Addr<StaffActor>| a == &staff) {
                staff.do_send(ReleaseHoldsOf {
                    owner: self.context.call_id.clone(),
                });
                released.push(staff);
            }
        }
        if let Some(on_stop) = self.on_stop.take() {
            on_stop(&self.context.call_id);
        }
    }
}

/// Something happened on the call: postpone the idle timeout.
#[derive(Message)]
#[rtype(result = "CallContext")]
pub struct TouchCall;

impl Handler<TouchCall> for CallActor {
    type Result = MessageResult<TouchCall>;

    fn handle(&mut self, _: TouchCall, ctx: &mut Self::Context) -> Self::Result {
        self.reset_idle_timer(ctx);
        MessageResult(self.context.clone())
    }
}

/// The call now holds a slot at a staff member.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HoldTaken {
    /// The hold.
    pub hold: HoldId,
    /// Where.
    pub staff: Addr<StaffActor>,
}

impl Handler<HoldTaken> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: HoldTaken, ctx: &mut Self::Context) {
        self.holds.push((msg.hold, msg.staff));
        self.reset_idle_timer(ctx);
    }
}

/// A hold of the call was booked or released: stop tracking it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct HoldSettled {
    /// The hold.
    pub hold: HoldId,
}

impl Handler<HoldSettled> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: HoldSettled, _: &mut Self::Context) {
        self.holds.retain(|(h, _)| *h != msg.hold);
    }
}

/// What became of the bookings tried during a call (decides whether it needs a callback).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallBookings {
    /// Bookings made (or replayed).
    pub booked: u32,
    /// Booking attempts that failed (taken, unbookable, or an error).
    pub failed: u32,
}

/// A booking was tried on the call.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BookingTried {
    /// Whether it was booked.
    pub booked: bool,
}

impl Handler<BookingTried> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: BookingTried, _: &mut Self::Context) {
        if msg.booked {
            self.bookings.booked += 1;
        } else {
            self.bookings.failed += 1;
        }
    }
}

/// How a call ended, as its actor saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallSummary {
    /// Holds still open, now released.
    pub open_holds: usize,
    /// Bookings tried during the call.
    pub bookings: CallBookings,
}

/// Retell says the call ended: release everything and stop.
#[derive(Message)]
#[rtype(result = "CallSummary")]
pub struct EndCall;

impl Handler<EndCall> for CallActor {
    type Result = MessageResult<EndCall>;

    fn handle(&mut self, _: EndCall, ctx: &mut Self::Context) -> Self::Result {
        let summary = CallSummary {
            open_holds: self.holds.len(),
            bookings: self.bookings,
        };
        ctx.stop();
        MessageResult(summary)
    }
}

//! One-shot drivers (Windows, `poll`): keeping a source's registration
//! armed for the directions tasks wait on, written once and generic over
//! the lock, so that sources run it with std's mutex and the loom model
//! (`loom.rs`) with loom's.
//!
//! A one-shot registration reports once and is then disarmed by the OS.
//! `Source` re-arms it after every change of its waiter lists: when a poll
//! stores a waker, and after the reactor took the wakers of a report. Each
//! re-arm reads the lists and the armed bits under one lock, so whichever
//! runs last arms for the waiters that are there at the end. Arming reports
//! a direction that is ready already, so nothing is lost between an
//! operation that would block and the arm that follows it.

/// The read direction's bit.
pub const ARM_READ: u8 = 1;
/// The write direction's bit.
pub const ARM_WRITE: u8 = 2;

/// The directions the registration is armed for (`ARM_*` bits), behind a
/// lock: std's mutex, or loom's in the model.
pub trait ArmedBits {
    /// Runs `f` with the bits locked.
    fn with<R>(&self, f: impl FnOnce(&mut u8) -> R) -> R;
}

/// Re-arms the registration. `fired`: a report just came, so the OS
/// disarmed it. `waiting` reads which directions have waiters (`ARM_*`
/// bits). When one of them is not armed, `arm(bits)` asks the OS to watch
/// `bits` (what is armed already, plus the waited directions). Its error is
/// returned; the bits then stay as they were.
pub fn rearm_with<E>(
    armed: &impl ArmedBits,
    fired: bool,
    waiting: impl FnOnce() -> u8,
    arm: impl FnOnce(u8) -> Result<(), E>,
) -> Result<(), E> {
    armed.with(|armed| {
        if fired {
            *armed = 0;
        }
        let want = waiting();
        if want & !*armed == 0 {
            return Ok(());
        }
        let bits = want | *armed;
        arm(bits)?;
        *armed = bits;
        Ok(())
    })
}

impl ArmedBits for std::sync::Mutex<u8> {
    fn with<R>(&self, f: impl FnOnce(&mut u8) -> R) -> R {
        f(&mut self.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

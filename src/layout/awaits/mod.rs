//! Each `SuspendN` state mapped to its `.await` in the source.
//! TRANSITIONAL: the mapping lands in this file (helper branch `layout-awaits`).

use super::model::{AwaitPoint, Layout};
use super::Sources;

/// Fills [`super::model::State::await_point`] of every suspend state.
pub fn map(layout: &mut Layout, _sources: &Sources) {
    for state in layout.futures.iter_mut().flat_map(|f| f.states.iter_mut()) {
        if state.name.starts_with("Suspend") {
            state.await_point = Some(AwaitPoint::Unmapped {
                reason: "await mapping not built yet".into(),
            });
        }
    }
}

//! The parameters of FastCDC's cut function for one spec, shared by the two ways of cutting
//! (over held bytes, and as the bytes stream by).

use std::borrow::Cow;

/// The cut function's parameters for a FastCDC spec.
pub(super) struct Cdc {
    pub(super) min: usize,
    pub(super) avg: usize,
    pub(super) max: usize,
    /// The strict and the relaxed mask (`fastcdc::v2020::select_masks`).
    pub(super) masks: (u64, u64),
    pub(super) gear: Cow<'static, [u64]>,
    pub(super) gear_ls: Cow<'static, [u64]>,
}

//! Fused epilogues: what a convolution does to each output value after its sum of products and
//! bias, when the graph rewrite [`crate::optimize::fuse_epilogues`] has folded the ops that
//! followed it into it (never parsed from a symbol file).
//!
//! The pointwise functions here are also the kernels of the unfused ops (`Activation(relu)`,
//! `LeakyReLU(leaky)`, `clip`), so a fused and an unfused graph compute the same values, in the
//! same order: `act((Σ w·x + bias) + residual)`.

use super::activation::{ActType, ActivationOp, LeakyType};
use super::elementwise::ElementwiseOp;
use super::Op;

/// MXNet's `relu`: `x > 0 ? x : 0` (NaN gives 0).
#[inline(always)]
pub fn relu(v: f32) -> f32 {
    if v > 0.0 {
        v
    } else {
        0.0
    }
}

/// `LeakyReLU(act_type='leaky')`: `x > 0 ? x : slope·x`.
#[inline(always)]
pub fn leaky(v: f32, slope: f32) -> f32 {
    if v > 0.0 {
        v
    } else {
        slope * v
    }
}

/// `clip`: `x > hi ? hi : (x < lo ? lo : x)`; NaN passes through.
#[inline(always)]
pub fn clip(v: f32, lo: f32, hi: f32) -> f32 {
    if v > hi {
        hi
    } else if v < lo {
        lo
    } else {
        v
    }
}

/// A pointwise activation fused into a producer's store.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum FusedAct {
    #[default]
    None,
    /// `Activation(act_type='relu')`.
    Relu,
    /// `LeakyReLU(act_type='leaky', slope)`.
    Leaky { slope: f32 },
    /// `clip(a_min, a_max)` (Gluon's ReLU6 is `clip(0, 6)`).
    Clip { lo: f32, hi: f32 },
}

impl FusedAct {
    /// The fusable activation `op` computes, if it is one.
    pub fn of(op: &Op) -> Option<FusedAct> {
        match op {
            Op::Activation(ActivationOp::Activation { act: ActType::Relu }) => Some(FusedAct::Relu),
            Op::Activation(ActivationOp::LeakyReLU {
                act: LeakyType::Leaky,
                slope,
                ..
            }) => Some(FusedAct::Leaky { slope: *slope }),
            Op::Elementwise(ElementwiseOp::Clip { a_min, a_max }) => Some(FusedAct::Clip {
                lo: *a_min,
                hi: *a_max,
            }),
            _ => None,
        }
    }

    #[inline(always)]
    pub fn apply(self, v: f32) -> f32 {
        match self {
            FusedAct::None => v,
            FusedAct::Relu => relu(v),
            FusedAct::Leaky { slope } => leaky(v, slope),
            FusedAct::Clip { lo, hi } => clip(v, lo, hi),
        }
    }

    /// Applies the activation in place (one loop per kind, so each vectorises).
    pub fn apply_slice(self, y: &mut [f32]) {
        match self {
            FusedAct::None => {}
            FusedAct::Relu => y.iter_mut().for_each(|v| *v = relu(*v)),
            FusedAct::Leaky { slope } => y.iter_mut().for_each(|v| *v = leaky(*v, slope)),
            FusedAct::Clip { lo, hi } => y.iter_mut().for_each(|v| *v = clip(*v, lo, hi)),
        }
    }
}

/// The fused tail of a convolution: `y = act(conv + bias + residual)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Epilogue {
    /// The op's last input (same shape as the output) is added after the bias.
    pub residual: bool,
    pub act: FusedAct,
}

impl Epilogue {
    pub fn is_identity(&self) -> bool {
        !self.residual && self.act == FusedAct::None
    }

    /// Applies the epilogue to output values `y` whose residual values are `r` (same length;
    /// ignored without a residual).
    pub fn apply(&self, y: &mut [f32], r: Option<&[f32]>) {
        match (self.residual, r) {
            (true, Some(r)) => {
                let act = self.act;
                for (v, &add) in y.iter_mut().zip(r) {
                    *v = act.apply(*v + add);
                }
            }
            _ => self.act.apply_slice(y),
        }
    }

    /// A short description for `inspect`: `+residual`, `relu`, `+residual, relu`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.residual {
            parts.push("+residual".to_string());
        }
        match self.act {
            FusedAct::None => {}
            FusedAct::Relu => parts.push("relu".into()),
            FusedAct::Leaky { slope } => parts.push(format!("leaky({slope})")),
            FusedAct::Clip { lo, hi } => parts.push(format!("clip({lo}, {hi})")),
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_activations_match_mxnet_semantics() {
        assert_eq!(FusedAct::Relu.apply(-2.0), 0.0);
        assert_eq!(FusedAct::Relu.apply(f32::NAN), 0.0);
        assert_eq!(FusedAct::Leaky { slope: 0.1 }.apply(-2.0), -0.2);
        let relu6 = FusedAct::Clip { lo: 0.0, hi: 6.0 };
        assert_eq!(relu6.apply(7.0), 6.0);
        assert_eq!(relu6.apply(-1.0), 0.0);
        assert!(relu6.apply(f32::NAN).is_nan());
    }

    #[test]
    fn residual_is_added_before_the_activation() {
        let e = Epilogue {
            residual: true,
            act: FusedAct::Relu,
        };
        let mut y = [1.0, -3.0, 2.0];
        e.apply(&mut y, Some(&[-2.0, 5.0, 0.5]));
        assert_eq!(y, [0.0, 2.0, 2.5]);
        assert_eq!(e.describe(), "+residual, relu");
    }
}

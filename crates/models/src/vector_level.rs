//! Which vector instructions the CPU offers the models' vectorised loops (`iaf_psc_exp`'s
//! clock-driven sweep, the `rk4_vector` integrations of `pyramidal_bac`, `aeif_cond_alpha` and
//! `iaf_cond_exp`). Each such loop is compiled three times —
//! for AVX-512, for AVX2 and portably — from the same code, with no fused multiply-adds, so all
//! three compute the same bits; this check picks the fastest the CPU can run.

/// The instruction sets a vectorised loop is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VectorLevel {
    /// `avx512f`, `avx512vl`, `avx512bw`, `avx512dq` (and AVX2).
    Avx512,
    Avx2,
    Portable,
}

/// The best level this CPU supports (the standard library caches the detection).
pub(crate) fn vector_level() -> VectorLevel {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
        {
            return VectorLevel::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return VectorLevel::Avx2;
        }
    }
    VectorLevel::Portable
}

//! The harness's input file, `qkv.h5` (format `laminar-qkv/1`), and `laminar attention inputs`.
//!
//! Root attributes `format = "laminar-qkv/1"` and `beta` (the softmax temperature; default
//! 1/√d). Datasets, float64, every entry finite and in [−1, 1]: `q` [n_q, d], `k` [n, d], `v`
//! [n, d_v]; with heads, a leading [H, …] on all three; optional `W_O` [d_out, H·d_v] (any
//! finite values). Limits: n ≤ 256, n_q ≤ 64, d ≤ 32, d_v ≤ 16, H ≤ 8.
//!
//! **Drawing inputs** (`attention inputs`): k, v ~ U[−1, 1]; each query near one random key,
//! q = clip(s·(k_t + N(0, 0.3²)), −1, 1) with s ~ U(0.5, 1), so attention is retrieval-like and
//! far from uniform; β = 1; with H > 1, W_O ~ N(0, 1/(H·d_v)). Streams from the seed.

use std::path::{Path, PathBuf};

use laminar_engine::rng::stream_for;
use laminar_record::{ArrayFileReader, ArrayFileWriter, AttrValue};
use rand::RngExt;
use rand_distr::{Distribution, Normal};

use crate::matrix::Matrix;
use crate::reference::Head;

pub const FORMAT: &str = "laminar-qkv/1";
pub const MAX_TOKENS: usize = 256;
pub const MAX_QUERIES: usize = 64;
pub const MAX_DIM: usize = 32;
pub const MAX_DIM_V: usize = 16;
pub const MAX_HEADS: usize = 8;

/// A problem with an input file: the file, the dataset or attribute, and what is allowed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {what}: {message}", file.display())]
    Invalid { file: PathBuf, what: String, message: String },
    #[error(transparent)]
    Read(#[from] laminar_record::RecordError),
}

fn invalid(file: &Path, what: impl Into<String>, message: impl Into<String>) -> InputError {
    InputError::Invalid { file: file.to_path_buf(), what: what.into(), message: message.into() }
}

/// Validated inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    pub heads: Vec<Head>,
    pub beta: f64,
    /// [d_out, H·d_v]
    pub w_o: Option<Matrix>,
}

impl Inputs {
    pub fn n_tokens(&self) -> usize {
        self.heads[0].k.rows()
    }
    pub fn n_queries(&self) -> usize {
        self.heads[0].q.rows()
    }
    pub fn dim(&self) -> usize {
        self.heads[0].q.cols()
    }
    pub fn dim_v(&self) -> usize {
        self.heads[0].v.cols()
    }
    /// The output dimension: d_out with W_O, else d_v.
    pub fn dim_out(&self) -> usize {
        self.w_o.as_ref().map_or(self.dim_v(), |w| w.rows())
    }

    /// Reads and validates `path`.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let file = ArrayFileReader::open(path)?;
        if let Some(format) = file.attr_string("", "format").ok().flatten()
            && format != FORMAT
        {
            return Err(invalid(path, "attribute format", format!("is {format:?}; expected {FORMAT:?}")));
        }
        let read = |name: &str| {
            if !file.has(name) {
                return Err(invalid(path, format!("dataset {name}"), "missing (q, k and v are required)"));
            }
            file.read_f64(name).map_err(InputError::from)
        };
        let (q, k, v) = (read("q")?, read("k")?, read("v")?);
        let rank = q.shape.len();
        if !(rank == 2 || rank == 3) || k.shape.len() != rank || v.shape.len() != rank {
            return Err(invalid(
                path,
                "datasets q, k, v",
                format!(
                    "shapes {:?}, {:?}, {:?}: must be [n_q, d], [n, d], [n, d_v], or all with a leading [H, ...]",
                    q.shape, k.shape, v.shape
                ),
            ));
        }
        let heads = if rank == 3 { q.shape[0] } else { 1 };
        let dims = |s: &[usize]| if rank == 3 { (s[0], s[1], s[2]) } else { (1, s[0], s[1]) };
        let ((hq, nq, d), (hk, n, dk), (hv, nv, dv)) = (dims(&q.shape), dims(&k.shape), dims(&v.shape));
        if hq != hk || hq != hv {
            return Err(invalid(path, "datasets q, k, v", format!("head counts {hq}, {hk}, {hv} differ")));
        }
        if dk != d {
            return Err(invalid(
                path,
                "dataset k",
                format!("shape {:?}: its last dimension must be d = {d} (q's)", k.shape),
            ));
        }
        if nv != n {
            return Err(invalid(path, "dataset v", format!("shape {:?}: must have n = {n} rows (k's)", v.shape)));
        }
        for (name, value, max) in [
            ("n (tokens)", n, MAX_TOKENS),
            ("n_q (queries)", nq, MAX_QUERIES),
            ("d", d, MAX_DIM),
            ("d_v", dv, MAX_DIM_V),
            ("H (heads)", heads, MAX_HEADS),
        ] {
            if value == 0 || value > max {
                return Err(invalid(path, "datasets q, k, v", format!("{name} = {value}: must be 1 to {max}")));
            }
        }
        for (name, a) in [("q", &q), ("k", &k), ("v", &v)] {
            if let Some((i, x)) = a.data.iter().enumerate().find(|(_, x)| !x.is_finite() || x.abs() > 1.0) {
                return Err(invalid(
                    path,
                    format!("dataset {name}"),
                    format!(
                        "shape {:?}: entry {i} (flat) is {x}: every entry must be a finite number in [-1, 1]",
                        a.shape
                    ),
                ));
            }
        }
        let w_o = if file.has("W_O") {
            let w = read("W_O")?;
            if w.shape.len() != 2 || w.shape[1] != heads * dv || w.shape[0] == 0 {
                return Err(invalid(
                    path,
                    "dataset W_O",
                    format!("shape {:?}: must be [d_out, H*d_v] = [d_out, {}]", w.shape, heads * dv),
                ));
            }
            if w.data.iter().any(|x| !x.is_finite()) {
                return Err(invalid(path, "dataset W_O", "every entry must be finite"));
            }
            Some(Matrix::from_vec(w.shape[0], w.shape[1], w.data).expect("shape checked"))
        } else {
            None
        };
        let beta = match file.attr_f64("", "beta").ok().flatten() {
            Some(b) if b.is_finite() && b > 0.0 => b,
            Some(b) => return Err(invalid(path, "attribute beta", format!("is {b}: must be a finite number > 0"))),
            None => 1.0 / (d as f64).sqrt(),
        };
        let part = |a: &laminar_record::F64Array, h: usize, rows: usize, cols: usize| {
            Matrix::from_vec(rows, cols, a.data[h * rows * cols..(h + 1) * rows * cols].to_vec())
                .expect("shape checked")
        };
        let heads =
            (0..heads).map(|h| Head { q: part(&q, h, nq, d), k: part(&k, h, n, d), v: part(&v, h, n, dv) }).collect();
        Ok(Self { heads, beta, w_o })
    }

    /// Writes the inputs as `qkv.h5`.
    pub fn write(&self, path: &Path) -> Result<(), InputError> {
        let w = ArrayFileWriter::create(path)?;
        w.attr("", "format", &AttrValue::Str(FORMAT.into()))?;
        w.attr("", "beta", &AttrValue::F64(self.beta))?;
        let h = self.heads.len();
        for (name, get) in [("q", 0usize), ("k", 1), ("v", 2)] {
            let mats: Vec<&Matrix> = self.heads.iter().map(|hd| [&hd.q, &hd.k, &hd.v][get]).collect();
            let [rows, cols] = mats[0].shape();
            let data: Vec<f64> = mats.iter().flat_map(|m| m.data().iter().copied()).collect();
            let shape: Vec<usize> = if h > 1 { vec![h, rows, cols] } else { vec![rows, cols] };
            w.write_f64(name, &shape, &data)?;
        }
        if let Some(wo) = &self.w_o {
            w.write_f64("W_O", &wo.shape(), wo.data())?;
        }
        w.finish()?;
        Ok(())
    }

    /// Draws inputs as the module documentation says.
    pub fn draw(n: usize, n_q: usize, d: usize, d_v: usize, heads: usize, d_out: Option<usize>, seed: u64) -> Self {
        let mut rng = stream_for(seed, "attention:inputs", 0);
        let noise = Normal::new(0.0, 0.3).expect("valid");
        let mut uniform = |rows, cols| Matrix::from_fn(rows, cols, |_, _| rng.random_range(-1.0..=1.0));
        let mut drawn: Vec<(Matrix, Matrix)> = (0..heads).map(|_| (uniform(n, d), uniform(n, d_v))).collect();
        let mut rng = stream_for(seed, "attention:queries", 0);
        let heads_vec = drawn
            .drain(..)
            .map(|(k, v)| {
                let q = Matrix::from_fn(n_q, d, |_, _| 0.0);
                let mut q = q;
                for i in 0..n_q {
                    let t = rng.random_range(0..n);
                    let s: f64 = rng.random_range(0.5..1.0);
                    for c in 0..d {
                        let x: f64 = s * (k.get(t, c) + noise.sample(&mut rng));
                        q.set(i, c, x.clamp(-1.0, 1.0));
                    }
                }
                Head { q, k, v }
            })
            .collect();
        let w_o = (heads > 1).then(|| {
            let sd = (1.0 / (heads * d_v) as f64).sqrt();
            let normal = Normal::new(0.0, sd).expect("valid");
            let mut rng = stream_for(seed, "attention:w_o", 0);
            Matrix::from_fn(d_out.unwrap_or(d_v), heads * d_v, |_, _| normal.sample(&mut rng))
        });
        Self { heads: heads_vec, beta: 1.0, w_o }
    }
}

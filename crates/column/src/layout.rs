//! Cell positions: where every node of an expanded circuit sits, for exports and plots.
//!
//! A cell of a column is placed uniformly in the disc of the area's `column_radius_um` around
//! the column centre (x, y, µm) and, when its layer declares `depth_um = [top, bottom]`,
//! uniformly in that depth range (z, µm below the pia; otherwise z is absent). Thalamic nuclei
//! and inputs sit at the centre of their column or area, without depth. The positions are drawn
//! from the stream `(seed, "position:<population>", node)`: the same for any thread count, and
//! independent of every draw of the simulation.

use laminar_engine::rng::stream_for;
use rand::RngExt;

use crate::expand::PopulationOut;

/// The positions of a population's cells (µm).
#[derive(Debug, Clone, PartialEq)]
pub struct Positions {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// Depth below the pia, when the layer declares a depth range.
    pub z: Option<Vec<f64>>,
}

/// The positions of the cells of `p` for the master seed `seed`.
pub fn positions(p: &PopulationOut, seed: u64) -> Positions {
    let pl = &p.placement;
    let purpose = format!("position:{}", p.name);
    let mut x = Vec::with_capacity(p.size);
    let mut y = Vec::with_capacity(p.size);
    let mut z = pl.depth_um.map(|_| Vec::with_capacity(p.size));
    for node in 0..p.size as u64 {
        let mut rng = stream_for(seed, &purpose, node);
        // Uniform in the disc: radius ∝ sqrt(u) so that the density is constant.
        let r = pl.radius_um * rng.random::<f64>().sqrt();
        let phi = std::f64::consts::TAU * rng.random::<f64>();
        x.push(pl.centre_um[0] + r * phi.cos());
        y.push(pl.centre_um[1] + r * phi.sin());
        if let (Some(z), Some([top, bottom])) = (z.as_mut(), pl.depth_um) {
            z.push(top + (bottom - top) * rng.random::<f64>());
        }
    }
    Positions { x, y, z }
}

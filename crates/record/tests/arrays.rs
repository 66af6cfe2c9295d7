//! `ArrayFileWriter` / `ArrayFileReader`: named arrays and attributes round-trip, groups are
//! created on demand, and nothing appears under the final name before `finish`.

use laminar_record::{ArrayFileReader, ArrayFileWriter, AttrValue};

#[test]
fn arrays_and_attributes_round_trip() {
    let dir = std::env::temp_dir().join(format!("laminar-arrays-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.h5");
    let w = ArrayFileWriter::create(&path).unwrap();
    w.write_f64("inputs/q", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    w.write_i64("output/counts", &[2, 1, 2], &[1, 2, 3, 4]).unwrap();
    w.write_strings("readout/population", &["O".into(), "F".into()]).unwrap();
    w.group("metrics/kernel").unwrap();
    w.attr("", "format", &AttrValue::Str("laminar-attention/1".into())).unwrap();
    w.attr("metrics/kernel", "r_c", &AttrValue::F64(0.95)).unwrap();
    w.attr("inputs/q", "note", &AttrValue::Str("verbatim".into())).unwrap();
    w.attr("", "passed", &AttrValue::Bool(true)).unwrap();
    assert!(w.write_f64("bad", &[3], &[1.0]).is_err(), "a shape that does not match the data is refused");
    assert!(!path.exists(), "the file appears only when finished");
    w.finish().unwrap();
    let r = ArrayFileReader::open(&path).unwrap();
    let q = r.read_f64("inputs/q").unwrap();
    assert_eq!((q.shape, q.data), (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    assert_eq!(r.read_f64("output/counts").unwrap().shape, vec![2, 1, 2]);
    assert_eq!(r.attr_string("", "format").unwrap().as_deref(), Some("laminar-attention/1"));
    assert_eq!(r.attr_f64("metrics/kernel", "r_c").unwrap(), Some(0.95));
    assert_eq!(r.attr_string("inputs/q", "note").unwrap().as_deref(), Some("verbatim"));
    assert_eq!(r.attr_f64("", "missing").unwrap(), None);
    assert!(r.has("readout/population") && !r.has("nothing"));
    std::fs::remove_dir_all(&dir).ok();
}

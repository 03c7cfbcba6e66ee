//! Row decoding on hand-built images: extremes, NULLs, absent columns,
//! decimals, latin1, truncation.

use sluice_api::data::decimal::to_plain_string;
use sluice_api::data::Value;

use super::column::{plan, ColumnPlan, DecodeOptions};
use super::decimal::decode_decimal;
use super::rows::decode_row;
use super::table_map::{col, MapColumn};
use super::wire::Reader;

fn column(t: u8, meta: u16, unsigned: bool, collation: Option<u32>) -> ColumnPlan {
    let c = MapColumn {
        column_type: t,
        meta,
        nullable: true,
        unsigned: Some(unsigned),
        collation,
        ..MapColumn::default()
    };
    plan(0, &c, None, &DecodeOptions::default()).unwrap()
}

fn one(p: ColumnPlan, bytes: &[u8]) -> Value {
    let mut img = vec![0u8]; // null bitmap: not null
    img.extend_from_slice(bytes);
    let mut out = Vec::new();
    decode_row(&mut Reader::new(&img), &[p], &[1], &mut out).unwrap();
    out.pop().unwrap()
}

#[test]
fn signed_and_unsigned_extremes() {
    assert_eq!(
        one(column(col::TINY, 0, false, None), &[0x80]),
        Value::Int16(-128)
    );
    assert_eq!(
        one(column(col::TINY, 0, true, None), &[0xff]),
        Value::Int16(255)
    );
    assert_eq!(
        one(column(col::SHORT, 0, true, None), &[0xff, 0xff]),
        Value::Int32(65535)
    );
    assert_eq!(
        one(column(col::INT24, 0, false, None), &[0, 0, 0x80]),
        Value::Int32(-8_388_608)
    );
    assert_eq!(
        one(column(col::LONG, 0, true, None), &[0xff; 4]),
        Value::Int64(4_294_967_295)
    );
    assert_eq!(
        one(
            column(col::LONGLONG, 0, false, None),
            &[0, 0, 0, 0, 0, 0, 0, 0x80]
        ),
        Value::Int64(i64::MIN)
    );
    // BIGINT UNSIGNED max wraps in long mode, as Debezium's does.
    assert_eq!(
        one(column(col::LONGLONG, 0, true, None), &[0xff; 8]),
        Value::Int64(-1)
    );
}

#[test]
fn decimals_positive_negative_and_wide() {
    // DECIMAL(10,2) 1234.56: intg 8 -> 4 bytes (partial 8 digits), frac 2 -> 1 byte.
    let (b, n) = decode_decimal(&[0x80, 0x00, 0x04, 0xd2, 0x38], 10, 2).unwrap();
    assert_eq!((to_plain_string(&b, 2), n), ("1234.56".into(), 5));
    // -1234.56: every byte inverted.
    let neg: Vec<u8> = [0x80u8, 0x00, 0x04, 0xd2, 0x38]
        .iter()
        .map(|x| !x)
        .collect();
    assert_eq!(
        to_plain_string(&decode_decimal(&neg, 10, 2).unwrap().0, 2),
        "-1234.56"
    );
    // DECIMAL(65,30) 1: 35 int digits = 3 full words + 8-digit partial.
    let mut wide = vec![0x80, 0, 0, 0];
    wide.extend_from_slice(&[0; 12]);
    let last = wide.len() - 1;
    wide[last] = 1;
    wide.extend_from_slice(&[0; 12 + 2]); // 3 frac words + 3-digit partial (2 bytes)
    let (b, n) = decode_decimal(&wide, 65, 30).unwrap();
    assert_eq!(n, 30);
    assert_eq!(to_plain_string(&b, 30), format!("1.{}", "0".repeat(30)));
    assert!(decode_decimal(&[0x80], 10, 2).is_err());
    // A group with too many digits is corruption, not a wrong number.
    assert!(decode_decimal(&[0xff, 0xff, 0xff, 0xff, 0x00], 10, 2).is_err());
}

#[test]
fn float_m_d_widens_exactly() {
    let c = MapColumn {
        column_type: col::FLOAT,
        meta: 4,
        nullable: true,
        ..MapColumn::default()
    };
    let info = super::column::ColumnInfo {
        name: "fp".into(),
        column_type: "float(7,3)".into(),
        ..Default::default()
    };
    let p = plan(0, &c, Some(&info), &DecodeOptions::default()).unwrap();
    assert_eq!(
        one(p, &(-9999.999f32).to_le_bytes()),
        Value::Float64(-9999.9990234375)
    );
}

#[test]
fn nulls_and_absent_columns() {
    let plans = vec![
        column(col::LONG, 0, false, None),
        column(col::LONG, 0, false, None),
        column(col::LONG, 0, false, None),
    ];
    // Column 1 absent from the image; of the two present, the second is NULL.
    let img = [0b10u8, 7, 0, 0, 0];
    let mut out = Vec::new();
    decode_row(&mut Reader::new(&img), &plans, &[0b101], &mut out).unwrap();
    assert_eq!(out, vec![Value::Int32(7), Value::Null, Value::Null]);
}

#[test]
fn latin1_and_binary_strings() {
    let latin = column(col::VARCHAR, 20, false, Some(8));
    assert_eq!(
        one(latin, &[3, 0x80, 0xe9, 0x81]),
        Value::String("€é\u{81}".into())
    );
    let utf8 = column(col::VARCHAR, 400, false, Some(45));
    assert_eq!(one(utf8, &[2, 0, 0xc3, 0xa9]), Value::String("é".into()));
    let bin = column(col::STRING, 4, false, Some(63));
    assert_eq!(one(bin, &[1, 0xff]), Value::Bytes(vec![0xff, 0, 0, 0]));
}

#[test]
fn truncated_images_name_the_column() {
    let p = column(col::LONG, 0, false, None);
    let img = [0u8, 1, 2];
    let mut out = Vec::new();
    let e = decode_row(&mut Reader::new(&img), &[p], &[1], &mut out).unwrap_err();
    assert_eq!(e.column, "_col0");
    let utf8 = column(col::VARCHAR, 20, false, Some(45));
    let mut out = Vec::new();
    let e = decode_row(
        &mut Reader::new(&[0, 2, 0xff, 0x41]),
        &[utf8],
        &[1],
        &mut out,
    )
    .unwrap_err();
    assert!(e.detail.contains("UTF-8"), "{e}");
}

#[test]
fn temporal_values() {
    // DATE 2024-02-29: d | m << 5 | y << 9
    let v: u32 = 29 | (2 << 5) | (2024 << 9);
    let b = v.to_le_bytes();
    assert_eq!(
        one(column(col::DATE, 0, false, None), &b[..3]),
        Value::Int32(19_782)
    );
    // Zero date on a nullable column: null.
    assert_eq!(
        one(column(col::DATE, 0, false, None), &[0, 0, 0]),
        Value::Null
    );
    // TIMESTAMP2(6) 1 s + 1 µs.
    let ts = column(col::TIMESTAMP2, 6, false, None);
    assert_eq!(
        one(ts, &[0, 0, 0, 1, 0, 0, 1]),
        Value::String("1970-01-01T00:00:01.000001Z".into())
    );
    assert_eq!(
        one(column(col::YEAR, 0, false, None), &[124]),
        Value::Int32(2024)
    );
    // YEAR 0000 streams as 1900, as Debezium's does.
    assert_eq!(
        one(column(col::YEAR, 0, false, None), &[0]),
        Value::Int32(1900)
    );
    // The zero TIMESTAMP is stored as 0: Debezium streams the epoch, at the
    // column's width.
    assert_eq!(
        one(column(col::TIMESTAMP2, 3, false, None), &[0, 0, 0, 0, 0, 0]),
        Value::String("1970-01-01T00:00:00.000Z".into())
    );
    assert_eq!(
        one(column(col::TIMESTAMP2, 0, false, None), &[0, 0, 0, 0]),
        Value::String("1970-01-01T00:00:00Z".into())
    );
    assert_eq!(
        one(column(col::BIT, 1, false, None), &[1]),
        Value::Boolean(true)
    );
    assert_eq!(
        one(column(col::BIT, 0x0104, false, None), &[0x0a, 0xaa]),
        Value::Bytes(vec![0xaa, 0x0a])
    );
}

//! Bytes from outside, at random: every parser answers with a value or a
//! typed error, never a panic.

use polars_query_cache::tier::codec;
use polars_query_cache::{CachedQuery, Dataset, LoadOptions, Query};
use proptest::prelude::*;

use crate::common;

/// JSON-ish text: mostly the query grammar's own tokens, so the parser gets
/// past the first character.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"filters\"".to_owned()),
        Just("\"aggs\"".to_owned()),
        Just("\"group_by\"".to_owned()),
        Just("\"column\"".to_owned()),
        Just("\"op\"".to_owned()),
        Just("\"value\"".to_owned()),
        Just("\"fn\"".to_owned()),
        Just("\"len\"".to_owned()),
        Just("\"x\"".to_owned()),
        Just("\"between\"".to_owned()),
        Just("null".to_owned()),
        Just("1e308".to_owned()),
        Just("-0".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
        "\\PC{0,6}".prop_map(|s| format!("{s:?}")),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn query_json_never_panics(text in jsonish()) {
        let cache = CachedQuery::from_frame(common::frame(&common::rows(50, 1))).unwrap();
        match Query::from_json(&text) {
            Ok(query) => {
                // Whatever parses is answered or refused with a typed error.
                if let Err(e) = cache.get(&query) {
                    prop_assert!(e.is_user_error(), "{text}: {e:?}");
                }
            }
            Err(e) => prop_assert!(e.is_user_error()),
        }
    }

    #[test]
    fn the_codec_never_panics_on_damaged_bytes(cut in 0usize..2000, flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..4)) {
        let frame = common::frame(&common::rows(40, 3));
        let mut bytes = codec::encode("key", &frame, std::time::Duration::ZERO).unwrap();
        for (at, mask) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        bytes.truncate(bytes.len().min(cut.max(1) * 8));
        let intact = flips.is_empty() && bytes.len() == codec::encode("key", &frame, std::time::Duration::ZERO).unwrap().len();
        match codec::decode(&bytes, "key") {
            Ok(decoded) => {
                prop_assert!(intact, "damaged bytes decoded");
                prop_assert!(decoded.frame.equals_missing(&frame));
            }
            Err(_) => prop_assert!(!intact),
        }
    }

    #[test]
    fn csv_bytes_never_panic(text in "[a-c0-9,\"\n\r; .-]{0,200}") {
        match Dataset::from_csv_bytes("fuzz.csv", text.clone().into_bytes(), &LoadOptions::default()) {
            Ok(dataset) => {
                let cache = CachedQuery::from_frame(dataset.frame().unwrap().clone()).unwrap();
                let first = dataset.columns()[0].name.clone();
                let _ = cache.get(&Query::new().group_by([first]).len()).unwrap();
            }
            Err(e) => prop_assert!(
                matches!(e, polars_query_cache::Error::MalformedCsv { .. }),
                "{text:?}: {e:?}"
            ),
        }
    }
}

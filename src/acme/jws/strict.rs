//! Strict decoders for JWS parts: base64url without padding (RFC 7515 2, RFC 8555 6.1) and
//! JSON that refuses duplicate member names at any depth (RFC 7515 5.2 step 4: "if duplicate
//! Header Parameter names are present, the JWS MUST be rejected"). serde_json alone keeps the
//! last duplicate silently, which would let two parsers see two different headers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Decode strict base64url: alphabet `A–Z a–z 0–9 - _` only, no `=` padding, no whitespace,
/// and canonical trailing bits (the base64 crate rejects non-zero trailing bits), so every
/// byte string has exactly one accepted encoding.
pub(crate) fn b64url_decode(field: &str, s: &str) -> Result<Vec<u8>, String> {
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "{field} is not base64url without padding (character {bad:?}; RFC 7515 2)"
        ));
    }
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| format!("{field} is not canonical base64url: {e}"))
}

pub(crate) fn b64url_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Parse JSON, rejecting duplicate object member names anywhere in the document.
pub(crate) fn json_no_duplicates(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<NoDuplicates>(bytes)
        .map(|v| v.0)
        .map_err(|e| e.to_string())
}

/// A `serde_json::Value` whose deserialization fails on a duplicate member name.
struct NoDuplicates(Value);

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(NoDuplicatesVisitor)
            .map(NoDuplicates)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value without duplicate member names")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON cannot carry NaN/infinity, so from_f64 only fails on input serde_json
        // would not produce; map it to null rather than panic.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(NoDuplicates(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate member name {key:?}"
                )));
            }
            let NoDuplicates(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64url_decode("x", "AQAB"), Ok(vec![1, 0, 1]));
        assert_eq!(b64url_decode("x", ""), Ok(vec![]));
        for bad in ["AQ==", "AQ=", "a+b/", "AQ AB", "AQAB\n", "AR", "A"] {
            assert!(b64url_decode("x", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn duplicates_rejected_at_any_depth() {
        assert!(json_no_duplicates(br#"{"a":1,"a":2}"#).is_err());
        assert!(json_no_duplicates(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(json_no_duplicates(br#"[{"b":1,"b":1}]"#).is_err());
        let v = json_no_duplicates(br#"{"a":[1,-2,3.5,"s",null,true],"b":{}}"#);
        assert_eq!(
            v,
            Ok(serde_json::json!({"a":[1,-2,3.5,"s",null,true],"b":{}}))
        );
    }
}

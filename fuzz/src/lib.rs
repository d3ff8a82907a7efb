//! What more than one fuzz target checks.

/// `T` read, written and read again (floats may not come back bit for
/// bit: serde_json's reader is not exact, so only that it reads).
pub fn reads_back<T: serde::de::DeserializeOwned + serde::Serialize>(line: &[u8]) {
    let Ok(v) = serde_json::from_slice::<T>(line) else {
        return;
    };
    let written = serde_json::to_vec(&v).expect("it serialises");
    if let Err(e) = serde_json::from_slice::<T>(&written) {
        panic!(
            "written, it does not read back: {e}: {}",
            String::from_utf8_lossy(&written)
        );
    }
}

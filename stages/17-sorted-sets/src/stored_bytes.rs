//! Keys and values as the key space stores them: a short one inside the
//! table's node, as Redis's "embstr" (chapter 9 counts the bytes).

/// Up to 22 bytes inline, else a box: 24 bytes, where a `Bytes` takes 32 and
/// a block. One form for each length, so the derived `==` compares bytes.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredBytes {
    Inline(u8, [u8; 22]),
    Boxed(Box<[u8]>),
}

impl From<&[u8]> for StoredBytes {
    fn from(slice: &[u8]) -> Self {
        if slice.len() > 22 {
            return StoredBytes::Boxed(slice.into());
        }
        let mut inline = [0; 22];
        inline[..slice.len()].copy_from_slice(slice);
        StoredBytes::Inline(slice.len() as u8, inline)
    }
}

impl std::ops::Deref for StoredBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            StoredBytes::Inline(length, inline) => &inline[..usize::from(*length)],
            StoredBytes::Boxed(bytes) => bytes,
        }
    }
}

// Found by a `&[u8]`: so it must hash and compare as those bytes do.
impl std::borrow::Borrow<[u8]> for StoredBytes {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl std::hash::Hash for StoredBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn stored_bytes_take_24_bytes() {
        assert_eq!(std::mem::size_of::<StoredBytes>(), 24);
    }

    #[test]
    fn up_to_22_bytes_are_inline_and_longer_ones_boxed() {
        assert!(matches!(
            StoredBytes::from(&[7; 22][..]),
            StoredBytes::Inline(22, _)
        ));
        assert!(matches!(
            StoredBytes::from(&[7; 23][..]),
            StoredBytes::Boxed(_)
        ));
    }

    proptest! {
        /// Whichever way they are stored, the bytes come back the same, and
        /// hash and compare as the slice does (what `Borrow` promises).
        #[test]
        fn stored_bytes_hash_and_compare_as_their_slice(
            a in proptest::collection::vec(any::<u8>(), 0..40),
            b in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let (stored_a, stored_b) = (StoredBytes::from(&a[..]), StoredBytes::from(&b[..]));
            prop_assert_eq!(&*stored_a, &a[..]);
            prop_assert_eq!(stored_a == stored_b, a == b);
            let hasher = RandomState::new();
            prop_assert_eq!(hasher.hash_one(&stored_a), hasher.hash_one(&a[..]));
        }
    }
}

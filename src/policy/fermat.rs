//! Fermat factorisation of an RSA modulus, bounded (BR 6.1.1.3: refuse a key that Fermat's
//! method factors within 100 rounds; the same check as Boulder's goodkey
//! `checkPrimeFactorsTooClose`).
//!
//! Every odd n is a difference of squares, n = a² − b² = (a − b)(a + b). Starting from
//! a = ⌈√n⌉ and counting up, the first a for which a² − n is a perfect square b² gives the
//! factors. When p and q are close, (p + q)/2 is close to √n and a few rounds suffice;
//! for primes chosen independently at random the distance is astronomically many rounds.
//!
//! Cost: one big-integer square root to start; each round then updates residues with u64
//! arithmetic and only takes a square root when the residue of a² − n is a square modulo
//! 64, 63, 65 and 11 (about 1 candidate in 120; GMP's `mpz_perfect_square_p` filters the same way).

use num_traits::ToPrimitive;
use rsa::BigUint;

/// Rounds required by BR 6.1.1.3.
pub const ROUNDS: u32 = 100;

/// The residue filter: squares modulo each of these, combined as one modulus.
const FILTER_MODULUS: u64 = 64 * 63 * 65 * 11;
const SQUARES_64: [bool; 64] = squares::<64>();
const SQUARES_63: [bool; 63] = squares::<63>();
const SQUARES_65: [bool; 65] = squares::<65>();
const SQUARES_11: [bool; 11] = squares::<11>();

/// `t[x]` is true when x is a square modulo M.
const fn squares<const M: usize>() -> [bool; M] {
    let mut t = [false; M];
    let mut x = 0;
    while x < M {
        t[x * x % M] = true;
        x += 1;
    }
    t
}

/// Could `x mod FILTER_MODULUS` be the residue of a perfect square? (False means certainly
/// not a square; true means "take the square root and see".)
fn may_be_square(x: u64) -> bool {
    // Indexing is in range: each remainder is below its table's length.
    SQUARES_64[(x % 64) as usize]
        && SQUARES_63[(x % 63) as usize]
        && SQUARES_65[(x % 65) as usize]
        && SQUARES_11[(x % 11) as usize]
}

/// Factors found by Fermat's method: n = p · q with p ≥ q.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factors {
    pub p: BigUint,
    pub q: BigUint,
    /// The round (1-based) that found them.
    pub round: u32,
}

/// Try `rounds` rounds of Fermat's method on `n`. `None` when no factorisation into two
/// factors greater than 1 is found.
pub fn factor(n: &BigUint, rounds: u32) -> Option<Factors> {
    let one = BigUint::from(1u8);
    if n <= &one {
        return None;
    }
    let mut a = n.sqrt();
    if &(&a * &a) < n {
        a += &one;
    }
    // a ≥ √n, so a² − n does not underflow.
    let mut b2 = &a * &a - n;
    let mut a_res = residue(&a);
    let mut b2_res = residue(&b2);
    for round in 1..=rounds {
        if may_be_square(b2_res) {
            let b = b2.sqrt();
            if &b * &b == b2 {
                let q = &a - &b;
                // n = 1 · n is no factorisation; it can only occur for tiny n.
                if q > one {
                    let p = &a + &b;
                    return Some(Factors { p, q, round });
                }
            }
        }
        // (a + 1)² − n = (a² − n) + 2a + 1.
        b2 += &a + &a + &one;
        a += &one;
        b2_res = (b2_res + 2 * a_res + 1) % FILTER_MODULUS;
        a_res = (a_res + 1) % FILTER_MODULUS;
    }
    None
}

fn residue(x: &BigUint) -> u64 {
    // A remainder modulo FILTER_MODULUS always fits in u64.
    (x % FILTER_MODULUS).to_u64().unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use num_bigint_dig::prime::next_prime;
    use num_bigint_dig::RandPrime;

    /// Two primes (larger, smaller): a random `bits`-bit prime and the first prime after it
    /// plus `gap`.
    pub(crate) fn primes_with_gap(bits: usize, gap: &BigUint) -> (BigUint, BigUint) {
        let smaller = rand::rngs::OsRng.gen_prime(bits);
        let larger = next_prime(&(&smaller + gap));
        (larger, smaller)
    }

    #[test]
    fn close_primes_factor_in_the_first_round() {
        let (p, q) = primes_with_gap(1024, &BigUint::from(1_000_000u32));
        let n = &p * &q;
        let f = factor(&n, ROUNDS).expect("close primes must factor");
        assert_eq!((f.p, f.q, f.round), (p, q, 1));
    }

    #[test]
    fn primes_found_after_many_rounds_but_within_100() {
        // (p+q)/2 − √(pq) ≈ d²/(8√n): with d ≈ 20·2^512 and n ≈ 2^2048 that is about
        // 50 rounds, inside the bound; d = 2^520 needs thousands.
        let d = BigUint::from(20u8) << 512;
        let (p, q) = primes_with_gap(1024, &d);
        let f = factor(&(&p * &q), ROUNDS).expect("within 100 rounds");
        assert!(f.round > 1 && f.round <= ROUNDS, "round {}", f.round);
        assert_eq!((f.p, f.q), (p, q));
        let (p, q) = primes_with_gap(1024, &(BigUint::from(1u8) << 520));
        assert_eq!(factor(&(&p * &q), ROUNDS), None);
    }

    #[test]
    fn a_square_modulus_factors_as_p_times_p() {
        let p = rand::rngs::OsRng.gen_prime(1024);
        let f = factor(&(&p * &p), ROUNDS).expect("p²");
        assert_eq!((f.p, f.q, f.round), (p.clone(), p, 1));
    }

    #[test]
    fn generated_rsa_keys_do_not_factor() {
        use rsa::traits::PublicKeyParts;
        for _ in 0..3 {
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("keygen");
            assert_eq!(factor(key.n(), ROUNDS), None);
        }
    }

    #[test]
    fn small_and_prime_inputs_do_not_factor() {
        for n in [0u32, 1, 2, 3, 5, 7, 65537] {
            assert_eq!(factor(&BigUint::from(n), ROUNDS), None, "{n}");
        }
        // 15 = 3 · 5 and 21 = 3 · 7 factor in the first rounds.
        assert_eq!(
            factor(&BigUint::from(15u8), ROUNDS).map(|f| (f.p, f.q)),
            Some((BigUint::from(5u8), BigUint::from(3u8)))
        );
        assert_eq!(
            factor(&BigUint::from(21u8), ROUNDS).map(|f| (f.p, f.q)),
            Some((BigUint::from(7u8), BigUint::from(3u8)))
        );
    }

    #[test]
    fn the_filter_never_rejects_a_square() {
        for x in 0u64..200_000 {
            assert!(may_be_square(x * x % FILTER_MODULUS), "{x}");
        }
        // And it does reject most non-squares: that is what makes it worth having.
        let passed = (0..FILTER_MODULUS).filter(|&x| may_be_square(x)).count() as u64;
        assert!(passed * 50 < FILTER_MODULUS, "{passed} of {FILTER_MODULUS}");
    }

    /// Timing on this machine: `cargo nextest run -p hanko fermat_timing --run-ignored only
    /// --no-capture`.
    #[test]
    #[ignore = "timing report, not a check"]
    fn fermat_timing() {
        use rsa::traits::PublicKeyParts;
        for bits in [2048, 4096] {
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("keygen");
            let runs = 100;
            let start = std::time::Instant::now();
            for _ in 0..runs {
                assert_eq!(factor(std::hint::black_box(key.n()), ROUNDS), None);
            }
            eprintln!(
                "Fermat, {ROUNDS} rounds, {bits}-bit: {:?} each",
                start.elapsed() / runs
            );
        }
    }
}

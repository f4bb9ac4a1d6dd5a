(** * The person classifier's arithmetic (docs/arithmetic.md, "Person classifier").

    The core reads 40 INT8 values: [p k] for the 20 positive dimensions and [n k] for the
    20 negative ones.
    - sum-difference form: [s = Σ p − Σ n], person iff [s > T];
    - popcount form: one comparator bit per dimension, person iff [popcount ≥ K]. *)

From Coq Require Import ZArith Lia.
From VitGates Require Import Grid Classify.

Open Scope Z_scope.

Definition sumdiff (p n : nat -> Z) : Z := sumZ 20 p - sumZ 20 n.

Definition int8_on (N : nat) (v : nat -> Z) : Prop := forall k, (k < N)%nat -> int8 (v k).

(* The sum-difference lies in [-5100, 5100] for 20 + 20 INT8 values. *)
Theorem sumdiff_range p n : int8_on 20 p -> int8_on 20 n -> -5100 <= sumdiff p n <= 5100.
Proof.
  intros Hp Hn. unfold sumdiff.
  assert (A := sumZ_bounds 20 p (-128) 127 Hp). assert (B := sumZ_bounds 20 n (-128) 127 Hn).
  simpl Z.of_nat in *. lia.
Qed.

(* Both ends are reached. *)
Theorem sumdiff_range_attained :
  sumdiff (fun _ => 127) (fun _ => -128) = 5100 /\
  sumdiff (fun _ => -128) (fun _ => 127) = -5100.
Proof. split; reflexivity. Qed.

(* So s needs exactly 14 signed bits. *)
Theorem sumdiff_width p n : int8_on 20 p -> int8_on 20 n ->
  fits_signed 14 (sumdiff p n) /\ ~ fits_signed 13 (sumdiff (fun _ => 127) (fun _ => -128)).
Proof.
  intros Hp Hn. pose proof (sumdiff_range p n Hp Hn).
  unfold fits_signed. rewrite (proj1 sumdiff_range_attained). split; lia.
Qed.

(** The number of set bits among [b 0 .. b (N-1)]. *)
Definition popcount (N : nat) (b : nat -> bool) : Z :=
  sumZ N (fun k => if b k then 1 else 0).

(* A popcount of N bits lies in [0, N]. *)
Theorem popcount_range N b : 0 <= popcount N b <= Z.of_nat N.
Proof.
  unfold popcount.
  pose proof (sumZ_bounds N (fun k => if b k then 1 else 0) 0 1) as H.
  assert (Hk : forall k, (k < N)%nat -> 0 <= (if b k then 1 else 0) <= 1).
  { intros k _. destruct (b k); lia. }
  specialize (H Hk). lia.
Qed.

(* The popcount of 40 bits fits 6 unsigned bits, and 5 are too few. *)
Theorem popcount_width b :
  0 <= popcount 40 b < 2 ^ 6 /\ 2 ^ 5 <= popcount 40 (fun _ => true).
Proof.
  pose proof (popcount_range 40 b). simpl Z.of_nat in *.
  split; [lia|]. vm_compute. discriminate.
Qed.

(* The decision [popcount ≥ K] is the comparison [popcount > K − 1] that the core builds. *)
Theorem popcount_decision N b K : popcount N b >= K <-> popcount N b > K - 1.
Proof. lia. Qed.

(** The sum-difference core's rewrite.  A two's complement byte [u] (0 ≤ u < 256) of an
    INT8 [v] has low seven bits [u mod 128] and sign bit [u / 128];
    [v = low7 − 128·sign]. *)
Definition low7 (v : Z) : Z := (v mod 256) mod 128.
Definition sign (v : Z) : Z := (v mod 256) / 128.

(* A signed byte is its low seven bits minus 128 times its sign bit. *)
Theorem int8_twos_complement v : int8 v -> v = low7 v - 128 * sign v /\
  0 <= low7 v < 128 /\ 0 <= sign v <= 1.
Proof. unfold int8, low7, sign. intros Hv. Z.div_mod_to_equations. lia. Qed.

(* With that, s = A − B where A = Σ_pos low7 + 128·Σ_neg sign and
   B = Σ_neg low7 + 128·Σ_pos sign are sums of plain (unsigned) bits; stated for any
   number N of dimensions per side (the core has N = 20). *)
Theorem sumdiff_as_unsigned_sums N p n : int8_on N p -> int8_on N n ->
  sumZ N p - sumZ N n =
  (sumZ N (fun k => low7 (p k)) + 128 * sumZ N (fun k => sign (n k)))
  - (sumZ N (fun k => low7 (n k)) + 128 * sumZ N (fun k => sign (p k))).
Proof.
  intros Hp Hn.
  rewrite (sumZ_ext N p (fun k => low7 (p k) - 128 * sign (p k)))
    by (intros k Hk; apply (int8_twos_complement (p k) (Hp k Hk))).
  rewrite (sumZ_ext N n (fun k => low7 (n k) - 128 * sign (n k)))
    by (intros k Hk; apply (int8_twos_complement (n k) (Hn k Hk))).
  rewrite !sumZ_sub, !sumZ_scale. ring.
Qed.

(* For thresholds in the config's range [-5120, 5120], v = s − T − 1 lies in
   [-10221, 10219], which fits 15 signed bits. *)
Theorem sumdiff_margin_range p n T : int8_on 20 p -> int8_on 20 n -> -5120 <= T <= 5120 ->
  -10221 <= sumdiff p n - T - 1 <= 10219 /\ fits_signed 15 (sumdiff p n - T - 1).
Proof.
  intros Hp Hn HT. pose proof (sumdiff_range p n Hp Hn). unfold fits_signed. lia.
Qed.

(* The decision s > T is bit 14 of (s − T − 1) mod 2^15 being clear: the core reads the
   sign of a 15-bit sum and never forms a wider one. *)
Theorem sumdiff_decision_sign_bit p n T :
  int8_on 20 p -> int8_on 20 n -> -5120 <= T <= 5120 ->
  (sumdiff p n > T <-> Z.testbit ((sumdiff p n - T - 1) mod 2 ^ 15) 14 = false).
Proof.
  intros Hp Hn HT.
  destruct (sumdiff_margin_range p n T Hp Hn HT) as [Hv _].
  set (v := sumdiff p n - T - 1) in *.
  assert (Hb : Z.b2z (Z.testbit (v mod 2 ^ 15) 14) = ((v mod 2 ^ 15) / 2 ^ 14) mod 2)
    by (apply Z.testbit_spec'; lia).
  assert (Hs : sumdiff p n > T <-> 0 <= v) by (unfold v; lia).
  rewrite Hs.
  destruct (Z.testbit (v mod 2 ^ 15) 14); simpl Z.b2z in Hb; split; intro H;
    try reflexivity; try discriminate; revert Hb; change (2 ^ 15) with 32768;
    change (2 ^ 14) with 16384; Z.div_mod_to_equations; lia.
Qed.

(** * The integer cofiber bands of docs/arithmetic.md.

    A grid is a function from (row, column) to an integer.  The datapath is defined on the
    whole quarter-plane, so every identity below holds at every index; [window_local]
    shows that inside an [H × W] window with [H = 4h], [W = 4w] the bands read only values
    inside the window, so the statements hold for finite grids of every size divisible
    by 4.

    - [bsum g]: 2×2 block sums, [bsum g a b = g(2a,2b) + g(2a,2b+1) + g(2a+1,2b) + g(2a+1,2b+1)];
    - [up g]: nearest-neighbour upsampling by 2, [up g i j = g (i/2) (j/2)];
    - [S1 = bsum x], [S2 = bsum S1];
    - [band0 = 4·x − up S1], [band1 = 4·S1 − up S2], [band2 = S2]. *)

From Coq Require Import ZArith Lia Setoid Morphisms.
From VitGates Require Import Cofiber.

Open Scope Z_scope.

Definition grid := nat -> nat -> Z.

Definition bsum (g : grid) : grid := fun a b =>
  g (2 * a)%nat (2 * b)%nat + g (2 * a)%nat (2 * b + 1)%nat
  + g (2 * a + 1)%nat (2 * b)%nat + g (2 * a + 1)%nat (2 * b + 1)%nat.

Definition up (g : grid) : grid := fun i j => g (Nat.div2 i) (Nat.div2 j).

Definition S1 (x : grid) : grid := bsum x.
Definition S2 (x : grid) : grid := bsum (bsum x).

Definition band0 (x : grid) : grid := fun i j => 4 * x i j - up (S1 x) i j.
Definition band1 (x : grid) : grid := fun i j => 4 * S1 x i j - up (S2 x) i j.
Definition band2 (x : grid) : grid := S2 x.

(** Signed INT8 and "fits in n bits, two's complement". *)
Definition int8 (v : Z) : Prop := -128 <= v <= 127.
Definition fits_signed (n : Z) (v : Z) : Prop := - 2 ^ (n - 1) <= v < 2 ^ (n - 1).

(* ---------------------------------------------------------------------------------- *)
(** ** Index arithmetic *)

Lemma div2_2a (a : nat) : Nat.div2 (2 * a) = a.
Proof. apply Nat.div2_double. Qed.

Lemma div2_2a1 (a : nat) : Nat.div2 (2 * a + 1) = a.
Proof. rewrite Nat.add_1_r. apply Nat.div2_succ_double. Qed.

Lemma half_cases (i : nat) : i = (2 * Nat.div2 i)%nat \/ i = (2 * Nat.div2 i + 1)%nat.
Proof. pose proof (Nat.div2_odd i) as E. destruct (Nat.odd i); simpl in E; lia. Qed.

Lemma div2_lt (i n : nat) : (i < 2 * n)%nat -> (Nat.div2 i < n)%nat.
Proof. intro H. destruct (half_cases i); lia. Qed.

#[local] Hint Rewrite div2_2a div2_2a1 : half.

Lemma S2_blocks (x : grid) a b : S2 x a b =
  S1 x (2 * a)%nat (2 * b)%nat + S1 x (2 * a)%nat (2 * b + 1)%nat
  + S1 x (2 * a + 1)%nat (2 * b)%nat + S1 x (2 * a + 1)%nat (2 * b + 1)%nat.
Proof. reflexivity. Qed.

Lemma up_apply (g : grid) i j : up g i j = g (Nat.div2 i) (Nat.div2 j).
Proof. reflexivity. Qed.

(* Block-summing an upsampled grid gives four times the grid. *)
Lemma bsum_up (g : grid) a b : bsum (up g) a b = 4 * g a b.
Proof. unfold bsum, up. autorewrite with half. ring. Qed.

Lemma bsum_bsum_up (y : grid) a b : bsum (bsum (up y)) a b = 4 * bsum y a b.
Proof. unfold bsum at 1. rewrite !bsum_up. unfold bsum. ring. Qed.

(* ---------------------------------------------------------------------------------- *)
(** ** Exactness and cross terms *)

(* Reconstruction is exact: 16·x = 4·band0 + band1↑ + band2↑↑ at every pixel. *)
Theorem reconstruct (x : grid) i j :
  16 * x i j = 4 * band0 x i j + up (band1 x) i j + up (up (band2 x)) i j.
Proof. unfold band0, band1, band2, up. ring. Qed.

(* Cross term: every 2×2 block of band0 sums to zero (band0 has no stride-32 content). *)
Theorem bsum_band0 (x : grid) a b : bsum (band0 x) a b = 0.
Proof. unfold bsum, band0, up. autorewrite with half. unfold S1, bsum. ring. Qed.

(* Cross term: every 2×2 block of band1 sums to zero (band1 has no stride-64 content). *)
Theorem bsum_band1 (x : grid) a b : bsum (band1 x) a b = 0.
Proof.
  unfold bsum at 1. unfold band1, up. autorewrite with half. rewrite S2_blocks. ring.
Qed.

(* Cross term: the stride-16 band of an upsampled grid is zero. *)
Theorem band0_up (y : grid) i j : band0 (up y) i j = 0.
Proof.
  unfold band0 at 1. unfold up at 2. unfold S1. rewrite bsum_up. unfold up. ring.
Qed.

(* Scale shift: band1 of an upsampled grid is four times band0 of the grid. *)
Theorem band1_up (y : grid) i j : band1 (up y) i j = 4 * band0 y i j.
Proof.
  unfold band1, band0, S1, S2. rewrite bsum_up, (up_apply (bsum (bsum (up y)))).
  rewrite bsum_bsum_up, up_apply. ring.
Qed.

(* Cross term: band1 of a twice-upsampled grid is zero (as is its band0, by band0_up). *)
Theorem band1_up_up (z : grid) i j : band1 (up (up z)) i j = 0.
Proof. rewrite band1_up, band0_up. ring. Qed.

(* ---------------------------------------------------------------------------------- *)
(** ** The bands are an instance of the abstract cofiber (Cofiber.v, part 2) *)

Definition geq (f g : grid) : Prop := forall i j, f i j = g i j.

#[global] Instance grid_group : AbGroup grid.
Proof.
  refine {| ag_eq := geq; ag_add := fun f g i j => f i j + g i j; ag_zero := fun _ _ => 0;
            ag_opp := fun f i j => - f i j |}.
  - split.
    + intros f i j. reflexivity.
    + intros f g E i j. symmetry. apply E.
    + intros f g h E1 E2 i j. rewrite E1. apply E2.
  - intros f f' Ef g g' Eg i j. rewrite Ef, Eg. reflexivity.
  - intros f f' Ef i j. rewrite Ef. reflexivity.
  - intros f g h i j. ring.
  - intros f g i j. ring.
  - intros f i j. ring.
  - intros f i j. ring.
Defined.

#[global] Instance bsum_additive : Additive bsum.
Proof.
  split.
  - intros f g E a b. unfold bsum. rewrite !E. reflexivity.
  - intros f g a b. simpl. unfold bsum. ring.
Qed.

#[global] Instance up_additive : Additive up.
Proof.
  split.
  - intros f g E i j. unfold up. apply E.
  - intros f g i j. reflexivity.
Qed.

Lemma nsmul_grid (n : nat) (g : grid) i j : nsmul n g i j = Z.of_nat n * g i j.
Proof.
  induction n as [|n IH]; simpl nsmul.
  - reflexivity.
  - change ((g + nsmul n g)%ag i j) with (g i j + nsmul n g i j).
    rewrite IH, Nat2Z.inj_succ. ring.
Qed.

(* Block sum and nearest upsampling form a retraction pair up to the scale 4. *)
Theorem grid_scaled_retraction (g : grid) : (bsum (up g) == nsmul 4 g)%ag.
Proof. intros a b. rewrite bsum_up, nsmul_grid. reflexivity. Qed.

Lemma cofib_grid n (x : grid) i j :
  cofib n bsum up x i j = Z.of_nat n * x i j - up (bsum x) i j.
Proof.
  unfold cofib. change ((nsmul n x + - up (bsum x))%ag i j) with
    (nsmul n x i j + - up (bsum x) i j).
  rewrite nsmul_grid. ring.
Qed.

(* band0 is the scaled cofiber of the counit, and band1 is the cofiber of the pooled grid. *)
Theorem bands_are_cofibers (x : grid) :
  (band0 x == cofib 4 bsum up x)%ag /\ (band1 x == cofib 4 bsum up (S1 x))%ag.
Proof. split; intros i j; rewrite cofib_grid; reflexivity. Qed.

(* The abstract cross-term theorems, read on grids: pooling band0 gives zero and the band0
   of an upsampled grid is zero. *)
Corollary grid_cross_terms (x y : grid) :
  (bsum (band0 x) == 0)%ag /\ (band0 (up y) == 0)%ag.
Proof.
  destruct (bands_are_cofibers x) as [E _]. split.
  - rewrite E. apply (pool_cofib 4 bsum up grid_scaled_retraction).
  - destruct (bands_are_cofibers (up y)) as [E' _]. rewrite E'.
    apply (cofib_up 4 bsum up grid_scaled_retraction).
Qed.

(* ---------------------------------------------------------------------------------- *)
(** ** Finite windows *)

(* Inside an H × W window with H = 4h, W = 4w, S1 and band1 (on the 2h × 2w grid) and S2
   and band2 (on the h × w grid) and band0 read only pixels of the window: two inputs that
   agree on the window give the same bands there. *)
Theorem window_local (h w : nat) (x x' : grid) :
  (forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat -> x i j = x' i j) ->
  (forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat -> band0 x i j = band0 x' i j) /\
  (forall a b, (a < 2 * h)%nat -> (b < 2 * w)%nat ->
     S1 x a b = S1 x' a b /\ band1 x a b = band1 x' a b) /\
  (forall c d, (c < h)%nat -> (d < w)%nat -> band2 x c d = band2 x' c d).
Proof.
  intros E.
  assert (E1 : forall a b, (a < 2 * h)%nat -> (b < 2 * w)%nat -> S1 x a b = S1 x' a b).
  { intros a b Ha Hb. unfold S1, bsum. rewrite !E by lia. reflexivity. }
  assert (E2 : forall c d, (c < h)%nat -> (d < w)%nat -> S2 x c d = S2 x' c d).
  { intros c d Hc Hd. rewrite !S2_blocks, !E1 by lia. reflexivity. }
  split; [|split].
  - intros i j Hi Hj. unfold band0, up.
    pose proof (div2_lt i (2 * h) ltac:(lia)). pose proof (div2_lt j (2 * w) ltac:(lia)).
    rewrite E, E1 by lia. reflexivity.
  - intros a b Ha Hb. split; [now apply E1|]. unfold band1, up.
    pose proof (div2_lt a h Ha). pose proof (div2_lt b w Hb).
    rewrite E1, E2 by lia. reflexivity.
  - intros c d Hc Hd. unfold band2. now apply E2.
Qed.

(** Extending a window by zeros outside it: a finite grid as a total one. *)
Definition extend (h w : nat) (x : grid) : grid := fun i j =>
  if andb (Nat.ltb i (4 * h)) (Nat.ltb j (4 * w)) then x i j else 0.

Lemma extend_agrees h w x i j :
  (i < 4 * h)%nat -> (j < 4 * w)%nat -> extend h w x i j = x i j.
Proof.
  intros Hi Hj. unfold extend. apply Nat.ltb_lt in Hi. apply Nat.ltb_lt in Hj.
  rewrite Hi, Hj. reflexivity.
Qed.

Lemma extend_int8 h w x :
  (forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat -> int8 (x i j)) ->
  forall i j, int8 (extend h w x i j).
Proof.
  intros Hx i j. unfold extend.
  destruct (Nat.ltb_spec i (4 * h)), (Nat.ltb_spec j (4 * w)); simpl;
    try (apply Hx; assumption); unfold int8; lia.
Qed.

(* ---------------------------------------------------------------------------------- *)
(** ** Exact ranges for INT8 input *)

(* Adds [int8 (x i j)] for every read [x i j] in the goal. *)
Ltac read_bounds x Hx :=
  repeat match goal with
  | |- context [x ?i ?j] =>
      lazymatch goal with
      | _ : int8 (x i j) |- _ => fail
      | _ => pose proof (Hx i j)
      end
  end.

(* Writes index i as 2a or 2a+1 with a fresh variable a. *)
Ltac split_half i :=
  let a := fresh "a" in
  let E := fresh "E" in
  set (a := Nat.div2 i) in *; assert (E := half_cases i); fold a in E; clearbody a;
  destruct E as [E|E]; subst i.

(* S1 lies in [-512, 508] for INT8 input. *)
Theorem S1_range (x : grid) : (forall i j, int8 (x i j)) ->
  forall a b, -512 <= S1 x a b <= 508.
Proof. intros Hx a b. unfold S1, bsum. read_bounds x Hx. unfold int8 in *. lia. Qed.

(* S2 = band2 lies in [-2048, 2032] for INT8 input. *)
Theorem band2_range (x : grid) : (forall i j, int8 (x i j)) ->
  forall c d, -2048 <= band2 x c d <= 2032.
Proof.
  intros Hx c d. unfold band2, S2, bsum. read_bounds x Hx. unfold int8 in *. lia.
Qed.

(* band0 lies in [-765, 765] for INT8 input: 4·x minus its own block sum is
   3·x minus the three neighbours. *)
Theorem band0_range (x : grid) : (forall i j, int8 (x i j)) ->
  forall i j, -765 <= band0 x i j <= 765.
Proof.
  intros Hx i j. unfold band0, up, S1, bsum.
  split_half i; split_half j; autorewrite with half; read_bounds x Hx; unfold int8 in *;
    lia.
Qed.

(* band1 lies in [-3060, 3060] for INT8 input: 3 times its own four pixels minus the
   twelve others of the 4×4 block. *)
Theorem band1_range (x : grid) : (forall i j, int8 (x i j)) ->
  forall a b, -3060 <= band1 x a b <= 3060.
Proof.
  intros Hx a b. unfold band1, up, S2, S1.
  split_half a; split_half b; autorewrite with half; unfold bsum; read_bounds x Hx;
    unfold int8 in *; lia.
Qed.

(** Grids that reach the ends of the ranges: [hi] at pixel (0,0) or at the 2×2 block of
    (0,0), [lo] elsewhere. *)
Definition spot (hi lo : Z) : grid := fun i j =>
  if andb (Nat.eqb i 0) (Nat.eqb j 0) then hi else lo.
Definition block (hi lo : Z) : grid := fun i j =>
  if andb (Nat.ltb i 2) (Nat.ltb j 2) then hi else lo.
Definition const (v : Z) : grid := fun _ _ => v.

Lemma spot_int8 hi lo : int8 hi -> int8 lo -> forall i j, int8 (spot hi lo i j).
Proof. intros Hh Hl i j. unfold spot. destruct (andb _ _); assumption. Qed.

Lemma block_int8 hi lo : int8 hi -> int8 lo -> forall i j, int8 (block hi lo i j).
Proof. intros Hh Hl i j. unfold block. destruct (andb _ _); assumption. Qed.

Lemma const_int8 v : int8 v -> forall i j, int8 (const v i j).
Proof. intros Hv i j. exact Hv. Qed.

(* The ranges above are exact: each end is reached by some INT8 grid. *)
Theorem ranges_attained :
  S1 (const (-128)) O O = -512 /\ S1 (const 127) O O = 508 /\
  band2 (const (-128)) O O = -2048 /\ band2 (const 127) O O = 2032 /\
  band0 (spot (-128) 127) O O = -765 /\ band0 (spot 127 (-128)) O O = 765 /\
  band1 (block (-128) 127) O O = -3060 /\ band1 (block 127 (-128)) O O = 3060.
Proof. repeat split; reflexivity. Qed.

(* The ranges quoted in docs/arithmetic.md for band0 and band1 are valid (not tight). *)
Corollary doc_ranges (x : grid) : (forall i j, int8 (x i j)) ->
  forall i j, -1020 <= band0 x i j <= 1020 /\ -4080 <= band1 x i j <= 4080.
Proof.
  intros Hx i j. pose proof (band0_range x Hx i j). pose proof (band1_range x Hx i j).
  lia.
Qed.

(* Widths: S1 needs 10 signed bits, band0 11, S2 = band2 12, band1 13; one bit fewer
   would overflow on some INT8 grid (band_widths_needed). *)
Theorem band_widths (x : grid) : (forall i j, int8 (x i j)) -> forall i j,
  fits_signed 10 (S1 x i j) /\ fits_signed 11 (band0 x i j) /\
  fits_signed 13 (band1 x i j) /\ fits_signed 12 (band2 x i j).
Proof.
  intros Hx i j. unfold fits_signed.
  pose proof (S1_range x Hx i j). pose proof (band0_range x Hx i j).
  pose proof (band1_range x Hx i j). pose proof (band2_range x Hx i j). lia.
Qed.

Theorem band_widths_needed :
  ~ fits_signed 9 (S1 (const 127) O O) /\ ~ fits_signed 10 (band0 (spot 127 (-128)) O O) /\
  ~ fits_signed 12 (band1 (block 127 (-128)) O O) /\ ~ fits_signed 11 (band2 (const (-128)) O O).
Proof.
  destruct ranges_attained as (_ & A2 & A3 & _ & _ & A6 & _ & A8).
  unfold fits_signed. rewrite A2, A6, A8, A3. repeat split; lia.
Qed.

(* The same ranges hold on a finite H × W window (H = 4h, W = 4w) whose pixels are INT8,
   whatever lies outside it. *)
Theorem window_ranges (h w : nat) (x : grid) :
  (forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat -> int8 (x i j)) ->
  (forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat -> -765 <= band0 x i j <= 765) /\
  (forall a b, (a < 2 * h)%nat -> (b < 2 * w)%nat ->
     -512 <= S1 x a b <= 508 /\ -3060 <= band1 x a b <= 3060) /\
  (forall c d, (c < h)%nat -> (d < w)%nat -> -2048 <= band2 x c d <= 2032).
Proof.
  intros Hx.
  pose proof (extend_int8 h w x Hx) as Hx'.
  destruct (window_local h w x (extend h w x)) as (L0 & L1 & L2).
  { intros i j Hi Hj. symmetry. apply extend_agrees; assumption. }
  split; [|split].
  - intros i j Hi Hj. rewrite L0 by assumption. apply band0_range, Hx'.
  - intros a b Ha Hb. destruct (L1 a b Ha Hb) as [-> ->].
    split; [apply S1_range | apply band1_range]; exact Hx'.
  - intros c d Hc Hd. rewrite L2 by assumption. apply band2_range, Hx'.
Qed.

(* ---------------------------------------------------------------------------------- *)
(** ** Any input width

    The RTL forms the bands on INT8 pixels and also on wide accumulators, so the widths are
    needed for every input width [n]: with [B = 2^(n-1)] an [n]-bit signed input lies in
    [[-B, B-1]], and the ranges above become linear in [B]. *)

Ltac read_bounds_gen x Hx :=
  repeat match goal with
  | |- context [x ?i ?j] =>
      lazymatch goal with
      | _ : _ <= x i j <= _ |- _ => fail
      | _ => pose proof (Hx i j)
      end
  end.

(* For inputs in [-B, B-1]: S1 in [-4B, 4B-4], band0 in ±(6B-3), band1 in ±(24B-12),
   band2 in [-16B, 16B-16]; B = 128 gives the INT8 ranges above. *)
Theorem band_ranges_general (B : Z) (x : grid) : (forall i j, - B <= x i j <= B - 1) ->
  forall i j,
  - 4 * B <= S1 x i j <= 4 * B - 4 /\
  - (6 * B - 3) <= band0 x i j <= 6 * B - 3 /\
  - (24 * B - 12) <= band1 x i j <= 24 * B - 12 /\
  - 16 * B <= band2 x i j <= 16 * B - 16.
Proof.
  intros Hx i j. split; [|split; [|split]].
  - unfold S1, bsum. read_bounds_gen x Hx. lia.
  - unfold band0, up, S1, bsum.
    split_half i; split_half j; autorewrite with half; read_bounds_gen x Hx; lia.
  - unfold band1, up, S2, S1.
    split_half i; split_half j; autorewrite with half; unfold bsum; read_bounds_gen x Hx;
      lia.
  - unfold band2, S2, bsum. read_bounds_gen x Hx. lia.
Qed.

Lemma pow_shift (n k : Z) : 1 <= n -> 0 <= k -> 2 ^ (n + k - 1) = 2 ^ k * 2 ^ (n - 1).
Proof. intros Hn Hk. rewrite <- Z.pow_add_r by lia. f_equal. lia. Qed.

(* Widths for n-bit signed input (n ≥ 1): S1 needs n+2 bits, band0 n+3, band1 n+5,
   band2 = S2 n+4. INT8 (n = 8) gives 10, 11, 13, 12; the detector's 25-bit accumulators
   give 27, 28, 30, 29. *)
Theorem band_widths_general (n : Z) (x : grid) : 1 <= n ->
  (forall i j, fits_signed n (x i j)) -> forall i j,
  fits_signed (n + 2) (S1 x i j) /\ fits_signed (n + 3) (band0 x i j) /\
  fits_signed (n + 5) (band1 x i j) /\ fits_signed (n + 4) (band2 x i j).
Proof.
  intros Hn Hx i j. unfold fits_signed in *.
  assert (HB : 0 < 2 ^ (n - 1)) by (apply Z.pow_pos_nonneg; lia).
  destruct (band_ranges_general (2 ^ (n - 1)) x) with (i := i) (j := j)
    as (A & B0 & B1 & B2).
  { intros a b. specialize (Hx a b). lia. }
  rewrite !pow_shift by lia. change (2 ^ 2) with 4. change (2 ^ 3) with 8.
  change (2 ^ 5) with 32. change (2 ^ 4) with 16. lia.
Qed.

(* Reconstruction on a finite H × W window (H = 4h, W = 4w): bands computed from any grid
   that agrees with x on the window give back 16·x at every pixel of the window. *)
Theorem window_reconstruct (h w : nat) (x x' : grid) :
  (forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat -> x i j = x' i j) ->
  forall i j, (i < 4 * h)%nat -> (j < 4 * w)%nat ->
  16 * x i j = 4 * band0 x' i j + up (band1 x') i j + up (up (band2 x')) i j.
Proof. intros E i j Hi Hj. rewrite E by assumption. apply reconstruct. Qed.

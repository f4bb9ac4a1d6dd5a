(** * Classify: one INT8 weight vector over C channels, applied to every band.

    A multi-channel grid [x i j c] holds channel [c] of pixel [(i, j)].  The accumulator of
    one weight row [w] is [dot C w g i j = Σ_{c < C} w c · g i j c].

    Two results the hardware relies on:
    - classify commutes with the bands, so the detector may accumulate on the INT8 grid
      and form the bands on the accumulators ([classify_band0], [classify_band1]);
    - the accumulators' exact ranges for INT8 weights and features, hence their widths;
      [acc_widths_768] states them for C = 768. *)

From Coq Require Import ZArith Lia.
From VitGates Require Import Grid.

Open Scope Z_scope.

(** [Σ_{c < C} f c]. *)
Fixpoint sumZ (C : nat) (f : nat -> Z) : Z :=
  match C with
  | O => 0
  | S k => sumZ k f + f k
  end.

Definition mgrid := nat -> nat -> nat -> Z.

(** Channel [c] of a multi-channel grid, and a per-channel grid operation lifted. *)
Definition chan (x : mgrid) (c : nat) : grid := fun i j => x i j c.
Definition lift (op : grid -> grid) (x : mgrid) : mgrid := fun i j c => op (chan x c) i j.

(** The accumulator of weight row [w] over the first [C] channels. *)
Definition dot (C : nat) (w : nat -> Z) (x : mgrid) : grid :=
  fun i j => sumZ C (fun c => w c * x i j c).

(* ---------------------------------------------------------------------------------- *)
(** ** Linearity *)

Lemma sumZ_ext C f g : (forall c, (c < C)%nat -> f c = g c) -> sumZ C f = sumZ C g.
Proof.
  induction C as [|C IH]; intro E; simpl; [reflexivity|].
  rewrite IH by (intros; apply E; lia). rewrite E by lia. reflexivity.
Qed.

Lemma sumZ_add C f g : sumZ C (fun c => f c + g c) = sumZ C f + sumZ C g.
Proof. induction C as [|C IH]; simpl; [reflexivity|]. rewrite IH. ring. Qed.

Lemma sumZ_scale C k f : sumZ C (fun c => k * f c) = k * sumZ C f.
Proof. induction C as [|C IH]; simpl; [ring|]. rewrite IH. ring. Qed.

Lemma sumZ_sub C f g : sumZ C (fun c => f c - g c) = sumZ C f - sumZ C g.
Proof. induction C as [|C IH]; simpl; [reflexivity|]. rewrite IH. ring. Qed.

(* Classify commutes with the 2×2 block sum: W·S1 is the block sum of W·x. *)
Theorem classify_bsum C w x a b : dot C w (lift bsum x) a b = bsum (dot C w x) a b.
Proof.
  unfold dot, lift, chan, bsum. cbv beta.
  rewrite <- !sumZ_add. apply sumZ_ext. intros c _. cbv beta. ring.
Qed.

(* Classify commutes with nearest upsampling. *)
Theorem classify_up C w x i j : dot C w (lift up x) i j = up (dot C w x) i j.
Proof. reflexivity. Qed.

(* Classifying band0 equals forming band0 on the accumulator grid:
   W·band0 = 4·(W·x) − up(bsum(W·x)). *)
Theorem classify_band0 C w x i j :
  dot C w (lift band0 x) i j = 4 * dot C w x i j - up (bsum (dot C w x)) i j.
Proof.
  rewrite up_apply, <- classify_bsum. unfold dot, lift, chan, band0, up, S1. cbv beta.
  rewrite <- sumZ_scale, <- sumZ_sub. apply sumZ_ext. intros c _. cbv beta. ring.
Qed.

(* Classify commutes with the twice-applied block sum: W·S2 = bsum(bsum(W·x)). *)
Theorem classify_S2 C w x a b : dot C w (lift S2 x) a b = bsum (bsum (dot C w x)) a b.
Proof.
  unfold bsum at 1. rewrite <- !classify_bsum. unfold dot, lift, chan. cbv beta.
  rewrite <- !sumZ_add. apply sumZ_ext. intros c _. rewrite S2_blocks. unfold S1.
  cbv beta. ring.
Qed.

(* Classifying band1 equals forming band1 on the accumulator grid:
   W·band1 = 4·(W·S1) − up(W·S2), with W·S1 = bsum(W·x) and W·S2 = bsum(bsum(W·x)). *)
Theorem classify_band1 C w x i j :
  dot C w (lift band1 x) i j =
  4 * bsum (dot C w x) i j - up (bsum (bsum (dot C w x))) i j.
Proof.
  rewrite up_apply, <- classify_S2, <- classify_bsum. unfold dot, lift, chan, band1, up.
  cbv beta. rewrite <- sumZ_scale, <- sumZ_sub. apply sumZ_ext. intros c _. unfold S1.
  ring.
Qed.

(* Classifying band2 equals band2 of the accumulator grid. *)
Theorem classify_band2 C w x a b :
  dot C w (lift band2 x) a b = band2 (dot C w x) a b.
Proof. exact (classify_S2 C w x a b). Qed.

(* In one line: all three bands of the classified grid are the classified bands. *)
Corollary classify_commutes_with_bands C w x i j :
  dot C w (lift band0 x) i j = band0 (dot C w x) i j /\
  dot C w (lift band1 x) i j = band1 (dot C w x) i j /\
  dot C w (lift band2 x) i j = band2 (dot C w x) i j.
Proof.
  split; [|split].
  - rewrite classify_band0. reflexivity.
  - rewrite classify_band1. reflexivity.
  - apply classify_band2.
Qed.

(* ---------------------------------------------------------------------------------- *)
(** ** Accumulator ranges *)

(* A sum of C terms, each in [lo, hi], lies in [C·lo, C·hi]. *)
Lemma sumZ_bounds C f lo hi :
  (forall c, (c < C)%nat -> lo <= f c <= hi) ->
  Z.of_nat C * lo <= sumZ C f <= Z.of_nat C * hi.
Proof.
  induction C as [|C IH]; intro Hf; cbn [sumZ]; [lia|].
  assert (H1 := IH (fun c Hc => Hf c ltac:(lia))). assert (H2 := Hf C ltac:(lia)).
  rewrite Nat2Z.inj_succ. lia.
Qed.

Lemma sumZ_const C v : sumZ C (fun _ => v) = Z.of_nat C * v.
Proof.
  induction C as [|C IH]; cbn [sumZ]; [reflexivity|]. rewrite IH, Nat2Z.inj_succ. ring.
Qed.

(* The classify accumulator bound: for INT8 weights and |b| ≤ M on every channel,
   |Σ_c w_c · b_c| ≤ C · 128 · M. *)
Theorem classify_acc_bound C (w b : nat -> Z) M :
  (forall c, (c < C)%nat -> int8 (w c)) -> (forall c, (c < C)%nat -> - M <= b c <= M) ->
  - (Z.of_nat C * 128 * M) <= sumZ C (fun c => w c * b c) <= Z.of_nat C * 128 * M.
Proof.
  intros Hw Hb.
  assert (H := sumZ_bounds C (fun c => w c * b c) (- (128 * M)) (128 * M)).
  assert (Ht : forall c, (c < C)%nat -> - (128 * M) <= w c * b c <= 128 * M).
  { intros c Hc. specialize (Hw c Hc). specialize (Hb c Hc). unfold int8 in Hw. nia. }
  specialize (H Ht). lia.
Qed.

(* The same with a one-sided range [lo, hi] of b, which is exact for the asymmetric
   INT8 ranges: each product lies between the extreme corner products. *)
Lemma product_range (w b lo hi : Z) :
  int8 w -> lo <= b <= hi -> lo <= 0 <= hi ->
  Z.min (-128 * hi) (127 * lo) <= w * b <= Z.max (-128 * lo) (127 * hi).
Proof. unfold int8. intros Hw Hb Hz. split; nia. Qed.

Definition all_int8 (C : nat) (w : nat -> Z) : Prop := forall c, (c < C)%nat -> int8 (w c).
Definition mgrid_int8 (x : mgrid) : Prop := forall i j c, int8 (x i j c).

Lemma chan_int8 x c : mgrid_int8 x -> forall i j, int8 (chan x c i j).
Proof. intros Hx i j. apply Hx. Qed.

(* The accumulator of an INT8 weight row over channel values in [lo, hi]. *)
Lemma acc_range_of C w (g : mgrid) i j lo hi plo phi :
  all_int8 C w -> (forall c, lo <= g i j c <= hi) -> lo <= 0 <= hi ->
  Z.min (-128 * hi) (127 * lo) = plo -> Z.max (-128 * lo) (127 * hi) = phi ->
  Z.of_nat C * plo <= dot C w g i j <= Z.of_nat C * phi.
Proof.
  intros Hw Hg Hz <- <-. apply sumZ_bounds. intros c Hc. apply product_range; auto.
Qed.

(* Exact ranges of the accumulators of x, S1 and the three bands, for any C. *)
Theorem acc_ranges C w x i j : all_int8 C w -> mgrid_int8 x ->
  Z.of_nat C * (-16256) <= dot C w x i j <= Z.of_nat C * 16384 /\
  Z.of_nat C * (-65024) <= dot C w (lift S1 x) i j <= Z.of_nat C * 65536 /\
  Z.of_nat C * (-97920) <= dot C w (lift band0 x) i j <= Z.of_nat C * 97920 /\
  Z.of_nat C * (-391680) <= dot C w (lift band1 x) i j <= Z.of_nat C * 391680 /\
  Z.of_nat C * (-260096) <= dot C w (lift band2 x) i j <= Z.of_nat C * 262144.
Proof.
  intros Hw Hx. split; [|split; [|split; [|split]]].
  all: first
    [ apply (acc_range_of C w x i j (-128) 127); try exact Hw;
      [ intro c; exact (Hx i j c) | lia | reflexivity | reflexivity ]
    | apply (acc_range_of C w (lift S1 x) i j (-512) 508); try exact Hw;
      [ intro c; exact (S1_range (chan x c) (chan_int8 x c Hx) i j)
      | lia | reflexivity | reflexivity ]
    | apply (acc_range_of C w (lift band0 x) i j (-765) 765); try exact Hw;
      [ intro c; exact (band0_range (chan x c) (chan_int8 x c Hx) i j)
      | lia | reflexivity | reflexivity ]
    | apply (acc_range_of C w (lift band1 x) i j (-3060) 3060); try exact Hw;
      [ intro c; exact (band1_range (chan x c) (chan_int8 x c Hx) i j)
      | lia | reflexivity | reflexivity ]
    | apply (acc_range_of C w (lift band2 x) i j (-2048) 2032); try exact Hw;
      [ intro c; exact (band2_range (chan x c) (chan_int8 x c Hx) i j)
      | lia | reflexivity | reflexivity ] ].
Qed.

(* For C = 768 channels, the accumulator widths (two's complement) are: W·x 25 bits,
   W·S1 27, W·band0 28, W·band1 30, W·band2 = W·S2 29. *)
Theorem acc_widths_768 w x i j : all_int8 768 w -> mgrid_int8 x ->
  fits_signed 25 (dot 768 w x i j) /\
  fits_signed 27 (dot 768 w (lift S1 x) i j) /\
  fits_signed 28 (dot 768 w (lift band0 x) i j) /\
  fits_signed 30 (dot 768 w (lift band1 x) i j) /\
  fits_signed 29 (dot 768 w (lift band2 x) i j).
Proof.
  intros Hw Hx. destruct (acc_ranges 768 w x i j Hw Hx) as (A & B & C & D & E).
  unfold fits_signed. simpl Z.of_nat in *. lia.
Qed.

(* Ranges of the block sums of the accumulator grid (equal to W·S1 and W·S2). *)
Lemma acc_first_ranges C w x i j : all_int8 C w -> mgrid_int8 x ->
  Z.of_nat C * (-65024) <= bsum (dot C w x) i j <= Z.of_nat C * 65536 /\
  Z.of_nat C * (-260096) <= bsum (bsum (dot C w x)) i j <= Z.of_nat C * 262144.
Proof.
  intros Hw Hx. destruct (acc_ranges C w x i j Hw Hx) as (_ & B & _ & _ & E).
  rewrite classify_bsum in B. rewrite classify_band2 in E. split; assumption.
Qed.

(* The intermediate values of the accumulate-first datapath for C = 768:
   4·(W·x) fits 27 bits, block sums of W·x (= W·S1) 27, and 4·(W·S1) 29. *)
Theorem acc_first_widths_768 w x i j : all_int8 768 w -> mgrid_int8 x ->
  fits_signed 27 (4 * dot 768 w x i j) /\
  fits_signed 27 (bsum (dot 768 w x) i j) /\
  fits_signed 29 (4 * bsum (dot 768 w x) i j) /\
  fits_signed 29 (bsum (bsum (dot 768 w x)) i j).
Proof.
  intros Hw Hx. destruct (acc_ranges 768 w x i j Hw Hx) as (A & _).
  destruct (acc_first_ranges 768 w x i j Hw Hx) as (B & E).
  unfold fits_signed. simpl Z.of_nat in *. lia.
Qed.

(** INT8 inputs that reach the ends of the accumulator ranges: every weight -128 and every
    channel the same extreme grid of Grid.v. *)
Definition wmin : nat -> Z := fun _ => -128.
Definition same (g : grid) : mgrid := fun i j _ => g i j.

(* The ranges are reached for C = 768, so no accumulator fits in one bit fewer. *)
Theorem acc_widths_768_needed :
  dot 768 wmin (same (const (-128))) O O = 12582912 /\
  dot 768 wmin (lift S1 (same (const (-128)))) O O = 50331648 /\
  dot 768 wmin (lift band0 (same (spot (-128) 127))) O O = 75202560 /\
  dot 768 wmin (lift band1 (same (block (-128) 127))) O O = 300810240 /\
  dot 768 wmin (lift band2 (same (const (-128)))) O O = 201326592 /\
  2 ^ 23 <= 12582912 /\ 2 ^ 25 <= 50331648 /\ 2 ^ 26 <= 75202560 /\
  2 ^ 28 <= 300810240 /\ 2 ^ 27 <= 201326592.
Proof.
  repeat match goal with |- _ /\ _ => split end.
  all: first [vm_compute; reflexivity | lia].
Qed.

(** * The cofiber of a pool/upsample retraction splits objects exactly.

    Two readings of the same statement.

    Part 1 works in any preadditive category (hom-sets are abelian groups and composition
    is bilinear; an additive category, hence a semi-additive one with negatives, is one).
    Given [pool : A -> B] and [up : B -> A] with [pool ∘ up = id], the cofiber of the
    counit is [hi = id - up ∘ pool].  When that idempotent has an image object [K]
    (maps [incl : K -> A], [proj : A -> K] with [proj ∘ incl = id] and [incl ∘ proj = hi]),
    [A] is the biproduct of [K] and [B]: the splitting is exact and both cross terms vanish.

    Part 2 works with elements: abelian groups compared by a setoid equality (so that
    grids, which are functions, can be compared pointwise without extra logical
    principles) and additive maps with [pool (up y) = n·y] for a natural number [n]; [n = 1]
    is a retraction pair, [n = 4] is the integer datapath of docs/arithmetic.md, where
    pool is the 2×2 block sum and up the nearest-neighbour upsampling (see Grid.v).

    Negatives are needed: the cofiber [x - up (pool x)] is a difference, so a
    commutative-monoid enrichment alone would not state it. *)

From Coq Require Import Setoid Morphisms.

(* ================================================================================== *)
(** ** Part 1: preadditive categories *)

Class Preadditive := {
  Ob : Type;
  Hom : Ob -> Ob -> Type;
  idm : forall {A}, Hom A A;
  comp : forall {A B C}, Hom B C -> Hom A B -> Hom A C;
  hadd : forall {A B}, Hom A B -> Hom A B -> Hom A B;
  hzero : forall {A B}, Hom A B;
  hopp : forall {A B}, Hom A B -> Hom A B;
  comp_assoc : forall {A B C D} (h : Hom C D) (g : Hom B C) (f : Hom A B),
    comp h (comp g f) = comp (comp h g) f;
  comp_id_l : forall {A B} (f : Hom A B), comp idm f = f;
  comp_id_r : forall {A B} (f : Hom A B), comp f idm = f;
  hadd_assoc : forall {A B} (f g h : Hom A B), hadd f (hadd g h) = hadd (hadd f g) h;
  hadd_comm : forall {A B} (f g : Hom A B), hadd f g = hadd g f;
  hadd_zero_l : forall {A B} (f : Hom A B), hadd hzero f = f;
  hadd_opp_r : forall {A B} (f : Hom A B), hadd f (hopp f) = hzero;
  comp_hadd_l : forall {A B C} (g g' : Hom B C) (f : Hom A B),
    comp (hadd g g') f = hadd (comp g f) (comp g' f);
  comp_hadd_r : forall {A B C} (g : Hom B C) (f f' : Hom A B),
    comp g (hadd f f') = hadd (comp g f) (comp g f');
}.

Section PreadditiveFacts.
  Context {C : Preadditive}.

  Local Notation "g ∘ f" := (comp g f) (at level 40, left associativity).
  Local Notation "f + g" := (hadd f g).
  Local Notation "- f" := (hopp f).
  Local Notation "0" := hzero.

  Lemma hadd_zero_r {A B} (f : Hom A B) : f + 0 = f.
  Proof. rewrite hadd_comm. apply hadd_zero_l. Qed.

  Lemma hadd_opp_l {A B} (f : Hom A B) : - f + f = 0.
  Proof. rewrite hadd_comm. apply hadd_opp_r. Qed.

  (* In an abelian group, [a + a = a] forces [a = 0]. *)
  Lemma hadd_self_zero {A B} (a : Hom A B) : a + a = a -> a = 0.
  Proof.
    intro Ha.
    rewrite <- (hadd_opp_r a). rewrite <- Ha at 2.
    rewrite <- hadd_assoc, hadd_opp_r, hadd_zero_r. reflexivity.
  Qed.

  Lemma comp_zero_l {A B D} (f : Hom A B) : (0 : Hom B D) ∘ f = 0.
  Proof.
    apply hadd_self_zero. rewrite <- comp_hadd_l, hadd_zero_l. reflexivity.
  Qed.

  Lemma comp_zero_r {A B D} (g : Hom B D) : g ∘ (0 : Hom A B) = 0.
  Proof.
    apply hadd_self_zero. rewrite <- comp_hadd_r, hadd_zero_l. reflexivity.
  Qed.

  (* The inverse is unique: [a + b = 0] gives [b = - a]. *)
  Lemma hopp_unique {A B} (a b : Hom A B) : a + b = 0 -> b = - a.
  Proof.
    intro H.
    rewrite <- (hadd_zero_l b), <- (hadd_opp_l a), <- hadd_assoc, H, hadd_zero_r.
    reflexivity.
  Qed.

  Lemma comp_opp_l {A B D} (g : Hom B D) (f : Hom A B) : (- g) ∘ f = - (g ∘ f).
  Proof.
    apply hopp_unique. rewrite <- comp_hadd_l, hadd_opp_r. apply comp_zero_l.
  Qed.

  Lemma comp_opp_r {A B D} (g : Hom B D) (f : Hom A B) : g ∘ (- f) = - (g ∘ f).
  Proof.
    apply hopp_unique. rewrite <- comp_hadd_r, hadd_opp_r. apply comp_zero_r.
  Qed.

  Section Retraction.
    Context {A B : Ob} (pool : Hom A B) (up : Hom B A).
    Hypothesis retraction : pool ∘ up = idm.

    (** The cofiber of the counit [up ∘ pool]: the part of [A] that pooling forgets. *)
    Definition hi : Hom A A := idm + - (up ∘ pool).

    (* Pooling the high band gives zero: high input produces no low output. *)
    Theorem cat_pool_hi : pool ∘ hi = 0.
    Proof.
      unfold hi. rewrite comp_hadd_r, comp_id_r, comp_opp_r, comp_assoc, retraction,
        comp_id_l. apply hadd_opp_r.
    Qed.

    (* The high band of an upsampled signal is zero: low input produces no high output. *)
    Theorem cat_hi_up : hi ∘ up = 0.
    Proof.
      unfold hi. rewrite comp_hadd_l, comp_id_l, comp_opp_l, <- comp_assoc, retraction,
        comp_id_r. apply hadd_opp_r.
    Qed.

    (* Reconstruction is exact: the high band plus the upsampled low band is the input. *)
    Theorem cat_reconstruct : hi + up ∘ pool = idm.
    Proof.
      unfold hi. rewrite <- hadd_assoc, hadd_opp_l. apply hadd_zero_r.
    Qed.

    (* The cofiber is an idempotent: taking the high band twice changes nothing. *)
    Theorem cat_hi_idempotent : hi ∘ hi = hi.
    Proof.
      assert (E : hi ∘ hi = hi ∘ (hi + up ∘ pool)).
      { rewrite comp_hadd_r, comp_assoc, cat_hi_up, comp_zero_l, hadd_zero_r.
        reflexivity. }
      rewrite E, cat_reconstruct. apply comp_id_r.
    Qed.

    (* Given an image object K of the cofiber, A is the biproduct of K and B: the two
       inclusions and two projections satisfy all five biproduct equations. *)
    Theorem cat_cofiber_biproduct (K : Ob) (incl : Hom K A) (proj : Hom A K) :
      proj ∘ incl = idm -> incl ∘ proj = hi ->
      proj ∘ incl = idm /\ pool ∘ up = idm /\
      pool ∘ incl = 0 /\ proj ∘ up = 0 /\
      incl ∘ proj + up ∘ pool = idm.
    Proof.
      intros Hri Hir.
      assert (Hpool : pool ∘ incl = 0).
      { transitivity (pool ∘ (incl ∘ proj) ∘ incl).
        - rewrite <- !comp_assoc, Hri, comp_id_r. reflexivity.
        - rewrite Hir, cat_pool_hi. apply comp_zero_l. }
      assert (Hproj : proj ∘ up = 0).
      { transitivity (proj ∘ ((incl ∘ proj) ∘ up)).
        - rewrite !comp_assoc, Hri, comp_id_l. reflexivity.
        - rewrite Hir, cat_hi_up. apply comp_zero_r. }
      repeat split; auto.
      rewrite Hir. apply cat_reconstruct.
    Qed.

    (* Block diagonality: a morphism of retraction pairs (f on the fine object, g on the
       coarse one, commuting with pool and up) maps high band to high band, its
       high-to-low and low-to-high blocks are zero, and its low block is g. *)
    Theorem cat_block_diagonal {A' B'} (pool' : Hom A' B') (up' : Hom B' A')
        (f : Hom A A') (g : Hom B B') :
      pool' ∘ up' = idm -> f ∘ up = up' ∘ g -> pool' ∘ f = g ∘ pool ->
      let hi' := idm + - (up' ∘ pool') in
      hi' ∘ f = f ∘ hi /\ pool' ∘ f ∘ hi = 0 /\ hi' ∘ f ∘ up = 0 /\
      pool' ∘ f ∘ up = g.
    Proof.
      intros R' Hup Hpool hi'.
      assert (E : (up' ∘ pool') ∘ f = f ∘ (up ∘ pool)).
      { rewrite <- comp_assoc, Hpool, comp_assoc, <- Hup, <- comp_assoc. reflexivity. }
      assert (Hcomm : hi' ∘ f = f ∘ hi).
      { unfold hi', hi. rewrite comp_hadd_l, comp_hadd_r, comp_id_l, comp_id_r,
          comp_opp_l, comp_opp_r, E. reflexivity. }
      repeat split.
      - exact Hcomm.
      - rewrite Hpool, <- comp_assoc, cat_pool_hi. apply comp_zero_r.
      - rewrite Hcomm, <- comp_assoc, cat_hi_up. apply comp_zero_r.
      - rewrite Hpool, <- comp_assoc, retraction. apply comp_id_r.
    Qed.
  End Retraction.
End PreadditiveFacts.

(* ================================================================================== *)
(** ** Part 2: elements, setoid equality, retraction up to a scale [n] *)

Class AbGroup (G : Type) := {
  ag_eq : G -> G -> Prop;
  ag_add : G -> G -> G;
  ag_zero : G;
  ag_opp : G -> G;
  ag_eq_equiv :> Equivalence ag_eq;
  ag_add_proper :> Proper (ag_eq ==> ag_eq ==> ag_eq) ag_add;
  ag_opp_proper :> Proper (ag_eq ==> ag_eq) ag_opp;
  ag_add_assoc : forall x y z, ag_eq (ag_add x (ag_add y z)) (ag_add (ag_add x y) z);
  ag_add_comm : forall x y, ag_eq (ag_add x y) (ag_add y x);
  ag_add_zero_l : forall x, ag_eq (ag_add ag_zero x) x;
  ag_add_opp_r : forall x, ag_eq (ag_add x (ag_opp x)) ag_zero;
}.

Declare Scope ag_scope.
Delimit Scope ag_scope with ag.
Infix "==" := ag_eq (at level 70, no associativity) : ag_scope.
Infix "+" := ag_add : ag_scope.
Notation "- x" := (ag_opp x) : ag_scope.
Notation "0" := ag_zero : ag_scope.
Local Open Scope ag_scope.

(** [n·x] as the sum of [n] copies of [x]. *)
Fixpoint nsmul {G} `{AbGroup G} (n : nat) (x : G) : G :=
  match n with
  | O => 0
  | S k => x + nsmul k x
  end.

(** A map that respects equality and addition. *)
Class Additive {G H} `{AbGroup G} `{AbGroup H} (f : G -> H) := {
  additive_proper :> Proper (ag_eq ==> ag_eq) f;
  additive_add : forall x y, f (x + y) == f x + f y;
}.

Section GroupFacts.
  Context {G : Type} `{AbGroup G}.

  Lemma ag_add_zero_r (x : G) : x + 0 == x.
  Proof. rewrite ag_add_comm. apply ag_add_zero_l. Qed.

  Lemma ag_add_opp_l (x : G) : - x + x == 0.
  Proof. rewrite ag_add_comm. apply ag_add_opp_r. Qed.

  Lemma ag_self_zero (a : G) : a + a == a -> a == 0.
  Proof.
    intro Ha.
    rewrite <- (ag_add_opp_r a). rewrite <- Ha at 2.
    rewrite <- ag_add_assoc, ag_add_opp_r, ag_add_zero_r. reflexivity.
  Qed.

  Lemma ag_opp_unique (a b : G) : a + b == 0 -> b == - a.
  Proof.
    intro Hab.
    rewrite <- (ag_add_zero_l b), <- (ag_add_opp_l a), <- ag_add_assoc, Hab,
      ag_add_zero_r. reflexivity.
  Qed.

  Lemma ag_opp_add (a b : G) : - (a + b) == - a + - b.
  Proof.
    symmetry. apply ag_opp_unique.
    rewrite (ag_add_comm a b), <- ag_add_assoc, (ag_add_assoc a), ag_add_opp_r,
      ag_add_zero_l. apply ag_add_opp_r.
  Qed.

  Lemma ag_sub_self (a : G) : a + - a == 0.
  Proof. apply ag_add_opp_r. Qed.

  Lemma ag_opp_zero : - (0 : G) == 0.
  Proof. symmetry. apply ag_opp_unique. apply ag_add_zero_l. Qed.

  (* Cancelling [a] on the right of [b + a] by adding [- a]. *)
  Lemma ag_add_sub_cancel (a b : G) : b + - a + a == b.
  Proof. rewrite <- ag_add_assoc, ag_add_opp_l. apply ag_add_zero_r. Qed.

  Global Instance nsmul_proper n : Proper (ag_eq ==> ag_eq) (@nsmul G _ n).
  Proof.
    intros x y Exy. induction n as [|n IH]; simpl.
    - reflexivity.
    - rewrite IH, Exy. reflexivity.
  Qed.
End GroupFacts.

Section AdditiveFacts.
  Context {G H : Type} `{AbGroup G} `{AbGroup H} (f : G -> H) `{!Additive f}.

  Lemma map_add x y : f (x + y) == f x + f y.
  Proof. apply additive_add. Qed.

  Lemma additive_zero : f 0 == 0.
  Proof.
    apply ag_self_zero. rewrite <- additive_add, ag_add_zero_l. reflexivity.
  Qed.

  Lemma additive_opp x : f (- x) == - f x.
  Proof.
    apply ag_opp_unique. rewrite <- additive_add, ag_add_opp_r. apply additive_zero.
  Qed.

  Lemma additive_nsmul n x : f (nsmul n x) == nsmul n (f x).
  Proof.
    induction n as [|n IH]; simpl.
    - apply additive_zero.
    - rewrite additive_add, IH. reflexivity.
  Qed.
End AdditiveFacts.

Section ScaledRetraction.
  Context {A B : Type} `{AbGroup A} `{AbGroup B}.
  Context (n : nat) (pool : A -> B) (up : B -> A) `{!Additive pool} `{!Additive up}.
  Hypothesis pool_up : forall y, pool (up y) == nsmul n y.

  (** The scaled cofiber of the counit: [n·x - up (pool x)]. *)
  Definition cofib (x : A) : A := nsmul n x + - up (pool x).

  Global Instance cofib_proper : Proper (ag_eq ==> ag_eq) cofib.
  Proof. intros x y E. unfold cofib. rewrite E. reflexivity. Qed.

  (* Reconstruction: the cofiber plus the upsampled pool is n times the input. *)
  Theorem cofib_reconstruct x : cofib x + up (pool x) == nsmul n x.
  Proof. unfold cofib. apply ag_add_sub_cancel. Qed.

  (* High-to-low cross term: pooling the cofiber gives zero. *)
  Theorem pool_cofib x : pool (cofib x) == 0.
  Proof.
    unfold cofib.
    rewrite (map_add pool), (additive_opp pool), (additive_nsmul pool), pool_up.
    apply ag_add_opp_r.
  Qed.

  (* Low-to-high cross term: the cofiber of an upsampled signal is zero. *)
  Theorem cofib_up y : cofib (up y) == 0.
  Proof.
    unfold cofib. rewrite pool_up, <- (additive_nsmul up).
    apply ag_add_opp_r.
  Qed.

  (* The cofiber is idempotent up to the scale: cofib (cofib x) = n·cofib x. *)
  Theorem cofib_cofib x : cofib (cofib x) == nsmul n (cofib x).
  Proof.
    unfold cofib at 1. rewrite pool_cofib, (additive_zero up), ag_opp_zero.
    apply ag_add_zero_r.
  Qed.

  (* Block diagonality: a pair of additive maps f, g that commute with pool and up
     commutes with the cofiber, sends no high input to the low side and no low input to
     the high side, and acts on the low side as n·g. *)
  Theorem cofib_block_diagonal {A' B'} `{AbGroup A'} `{AbGroup B'}
      (pool' : A' -> B') (up' : B' -> A') `{!Additive pool'} `{!Additive up'}
      (f : A -> A') (g : B -> B') `{!Additive f} `{!Additive g} :
    (forall y, pool' (up' y) == nsmul n y) ->
    (forall y, f (up y) == up' (g y)) ->
    (forall x, pool' (f x) == g (pool x)) ->
    let cofib' x := nsmul n x + - up' (pool' x) in
    forall x y,
      cofib' (f x) == f (cofib x) /\ pool' (f (cofib x)) == 0 /\
      cofib' (f (up y)) == 0 /\ pool' (f (up y)) == nsmul n (g y).
  Proof.
    intros R' Hup Hpool cofib' x y.
    assert (Hcomm : forall z, cofib' (f z) == f (cofib z)).
    { intro z. unfold cofib', cofib.
      rewrite (map_add f), (additive_opp f), (additive_nsmul f), Hpool, Hup.
      reflexivity. }
    repeat split.
    - apply Hcomm.
    - rewrite <- Hcomm. unfold cofib'.
      rewrite (map_add pool'), (additive_opp pool'), (additive_nsmul pool'), R'.
      apply ag_add_opp_r.
    - rewrite Hcomm, cofib_up. apply (additive_zero f).
    - rewrite Hup, R'. reflexivity.
  Qed.
End ScaledRetraction.

Section Retraction.
  Context {A B : Type} `{AbGroup A} `{AbGroup B}.
  Context (pool : A -> B) (up : B -> A) `{!Additive pool} `{!Additive up}.
  Hypothesis pool_up : forall y, pool (up y) == y.

  Lemma pool_up_1 y : pool (up y) == nsmul 1 y.
  Proof. simpl. rewrite ag_add_zero_r. apply pool_up. Qed.

  Lemma cofib_1 x : cofib 1 pool up x == x + - up (pool x).
  Proof. unfold cofib. simpl. rewrite ag_add_zero_r. reflexivity. Qed.

  (* For a true retraction the cofiber is exact on the left: its values are exactly the
     signals that pool to zero, and those it leaves unchanged. *)
  Theorem retraction_kernel_is_image x : pool x == 0 <-> cofib 1 pool up x == x.
  Proof.
    rewrite cofib_1. split.
    - intro Hx. rewrite Hx, (additive_zero up), ag_opp_zero, ag_add_zero_r.
      reflexivity.
    - intro Hx. rewrite <- Hx, <- cofib_1. apply (pool_cofib 1 pool up pool_up_1).
  Qed.

  (* ... and exact on the right: its kernel is exactly the image of upsampling. *)
  Theorem retraction_cofib_kernel x : cofib 1 pool up x == 0 <-> x == up (pool x).
  Proof.
    rewrite cofib_1. split.
    - intro Hx. rewrite <- (ag_add_zero_l (up (pool x))), <- Hx. symmetry.
      apply ag_add_sub_cancel.
    - intro Hx. rewrite Hx at 1. apply ag_add_opp_r.
  Qed.

  (* The splitting is a direct sum: every x is (high part) + up (low part) with a high
     part that pools to zero, and any such decomposition is the cofiber one. *)
  Theorem retraction_direct_sum x h y :
    (cofib 1 pool up x + up (pool x) == x /\ pool (cofib 1 pool up x) == 0) /\
    (pool h == 0 -> x == h + up y -> h == cofib 1 pool up x /\ y == pool x).
  Proof.
    split.
    - split.
      + rewrite cofib_1. apply ag_add_sub_cancel.
      + apply (pool_cofib 1 pool up pool_up_1).
    - intros Hh Hx.
      assert (Hy : y == pool x).
      { rewrite Hx, (map_add pool), Hh, ag_add_zero_l, pool_up. reflexivity. }
      split; [|exact Hy].
      rewrite cofib_1, <- Hy, Hx, <- ag_add_assoc, ag_add_opp_r, ag_add_zero_r.
      reflexivity.
  Qed.
End Retraction.

"""Clinical face validity of the bundled network 0.2: the cases of the dossier's decision anchors
(EVIDENCE.md §6) and of its addendum (EVIDENCE-ADDENDUM.md) must come out as a clinician expects.

Every check runs at the ALS prior's point (0.03) and at both ends of its range (0.005, 0.10): the
dossier (§3-B) recommends both ends, and the variants are built by editing the ALS marginal in the
file's text. Every check runs with and without the context nodes (age, sex, smoking, drugs)
entered. "Top" means by ``probability_not_reference`` (P(disease is not absent)). These tests check
the network file, not the engine (exactness is tested elsewhere).

One check conflicts with the addendum's own numbers and is marked ``xfail`` (not strict, as it
holds at some priors): see the reason below and the network file's notes. CFS < 0.1 once another
disease is established holds because CFS is a diagnosis of exclusion in the prior too (the CFS
node's fixed rows, derived from the dossier's overlap budget, §3-B).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

import bayesdx
from bayesdx._compile import spec_arrays
from bayesdx.network import Network
from bayesdx.spec import parse_spec

NETWORK = Path(__file__).parent.parent / "networks" / "fasciculation.yaml"
ALS_MARGINAL = "probs: {absent: 0.97, present: 0.03}"
ALS_PRIORS = [0.005, 0.03, 0.10]  # dossier §3-B: ALS/LMND 0.03 (0.005-0.10)


@functools.lru_cache(maxsize=None)
def network_at(als_prior: float) -> Network:
    """The bundled network with the ALS marginal set to ``als_prior`` (the loader recalibrates)."""
    text = NETWORK.read_text(encoding="utf-8")
    start = text.index(ALS_MARGINAL, text.index("\n  als:\n"))
    text = (text[:start] + f"probs: {{absent: {round(1 - als_prior, 6)}, present: {als_prior}}}"
            + text[start + len(ALS_MARGINAL):])
    spec = parse_spec(text, str(NETWORK))
    targets = [n for n, node in spec.nodes.items() if node.role == "target"]
    return Network(spec_arrays(spec), name=spec.name, targets=targets, spec=spec)


@pytest.fixture(scope="module", params=ALS_PRIORS, ids=[f"als_{p}" for p in ALS_PRIORS])
def net(request):
    return network_at(request.param)


@pytest.fixture(params=[True, False], ids=["with_context", "without_context"])
def with_context(request):
    return request.param


NORMAL_EXAM = {
    "proximal_weakness": "absent", "distal_weakness": "absent", "atrophy": "absent",
    "reflexes": "normal", "umn_signs": "absent", "bulbar_signs": "absent",
}

# name: (context, findings, expected top disease, cited line)
SCENARIOS = {
    "als_umn_lmn_two_regions": (
        {"age_band": "age_40_69", "sex": "male"},
        {"umn_signs": "present", "reflexes": "hyper", "atrophy": "present", "distal_weakness": "present",
         "fasciculations_exam": "present", "emg_denervation": "two_plus_regions"},
        "als", "dossier §4.4 (Gold Coast / Awaji: UMN + LMN signs); addendum §6g (denervation in >= 2 regions)"),
    "young_benign": (
        {"age_band": "age_lt_40"},
        {"fasciculations_exam": "present", "cramps": "present", **NORMAL_EXAM, "ck": "normal"},
        "cramp_fasciculation_syndrome", "dossier §6 (under 40, no weakness: reassure, S6); addendum §1a"),
    "claudication": (
        {"age_band": "age_ge_70", "smoking": "current"},
        {"exertional_leg_pain": "present", "pedal_pulses": "diminished", "abi": "low"},
        "peripheral_artery_disease", "dossier §6 (exertional calf pain, pulses, smoker -> ABI); addendum §5"),
    "overt_hypothyroid": (
        {"sex": "female"}, {"tsh": "high", "free_t4": "low"},
        "thyroid_disease", "addendum §3b (TSH high, free T4 low)"),
    "overt_hyperthyroid": (
        {"sex": "female"}, {"tsh": "low", "free_t4": "high"},
        "thyroid_disease", "addendum §3b (TSH low, free T4 high)"),
    "statin_necrotizing": (
        {"statin_use": "yes"},
        {"proximal_weakness": "present", "ck": "gt_1000", "anti_hmgcr": "positive"},
        "inflammatory_myopathy", "dossier §6 (proximal weakness, CK > 1000 -> HMGCR if statins); addendum §6c, §6e"),
    "inclusion_body": (
        {"sex": "male", "age_band": "age_ge_70"},
        {"finger_flexor_quadriceps_weakness": "present", "ck": "mild", "emg_myopathic_units": "present"},
        "inflammatory_myopathy", "dossier §6 (quadriceps + finger-flexor weakness, CK < 2000, age > 50 -> IBM); addendum §6a-6d"),
    "b12_low": (
        {"metformin": "yes"}, {"sensory_symptoms": "present", "reflexes": "hypo", "b12": "low"},
        "b_vitamin_deficiency", "dossier §6 (sensory symptoms + hyporeflexia, metformin -> B12)"),
    "mma_raised": (
        {"metformin": "yes"}, {"sensory_symptoms": "present", "reflexes": "hypo", "mma": "elevated"},
        "b_vitamin_deficiency", "dossier §6 (... if B12 borderline or normal -> MMA)"),
}


def _evidence(name, with_context):
    context, findings, _, _ = SCENARIOS[name]
    return {**(context if with_context else {}), **findings}


def _ranked(net, name, with_context):
    return bayesdx.diagnose(net, evidence=_evidence(name, with_context)).probability_not_reference()


@pytest.mark.parametrize("name", list(SCENARIOS), ids=list(SCENARIOS))
def test_expected_disease_is_top(net, with_context, name):
    ranked = _ranked(net, name, with_context)
    assert ranked.index[0] == SCENARIOS[name][2], (SCENARIOS[name][3], ranked.round(3).to_dict())


def test_upper_and_lower_motor_neurone_signs_with_two_region_denervation(net, with_context):
    """Dossier §4.4 (Gold Coast: UMN and LMN signs in two regions); addendum §6g, §1b."""
    ranked = _ranked(net, "als_umn_lmn_two_regions", with_context)
    assert ranked["als"] > 0.95
    assert ranked["cramp_fasciculation_syndrome"] < 0.05


def test_young_patient_with_a_normal_examination_has_cfs_and_not_als(net, with_context):
    """Dossier §6: under 40, fasciculations without weakness, atrophy or reflex change -> reassure."""
    ranked = _ranked(net, "young_benign", with_context)
    assert ranked.index[0] == "cramp_fasciculation_syndrome"
    assert ranked["als"] < 0.01


DEFICIT_CONFLICT = (
    "Conflict with faithful numbers: the CFS odds fall by P(deficit | not CFS) / P(deficit | CFS). "
    "In this young patient 'not CFS' is almost all the 'none' group, whose deficit rate is the "
    "dossier's leak (atrophy 0.03, distal weakness 0.06, mostly from radiculopathy and neuropathy, "
    "which a normal examination makes unlikely), against 0.01 in CFS (addendum §1a): at most about "
    "3-fold for atrophy and 4-6-fold for distal weakness.")


@pytest.mark.parametrize("finding", [
    "proximal_weakness",
    pytest.param("distal_weakness", marks=pytest.mark.xfail(reason=DEFICIT_CONFLICT, strict=False)),
    pytest.param("atrophy", marks=pytest.mark.xfail(reason=DEFICIT_CONFLICT, strict=False)),
])
def test_an_objective_deficit_lowers_the_odds_of_cfs_five_fold(net, with_context, finding):
    """Addendum §1a: objective weakness and atrophy are 0.01 in CFS (normal strength is
    definitional, S3); the issue's check: adding one lowers the odds of CFS at least five-fold."""
    evidence = _evidence("young_benign", with_context)

    def odds(ev):
        p = bayesdx.diagnose(net, evidence=ev).marginal("cramp_fasciculation_syndrome")["present"]
        return p / (1 - p)

    assert odds(evidence) / odds({**evidence, finding: "present"}) >= 5


@pytest.mark.parametrize("name", [
    n for n in SCENARIOS if SCENARIOS[n][2] != "cramp_fasciculation_syndrome"
])
def test_cfs_is_unlikely_once_another_disease_is_established(net, with_context, name):
    """Addendum §1 (CFS/BFS is a diagnosis of exclusion); the issue's check: in every scenario where
    another disease is established (posterior > 0.9), CFS < 0.1."""
    ranked = _ranked(net, name, with_context)
    established = [t for t in ranked.index if t != "cramp_fasciculation_syndrome" and ranked[t] > 0.9]
    if not established:
        pytest.skip(f"no disease is established in {name} ({ranked.round(3).to_dict()})")
    assert ranked["cramp_fasciculation_syndrome"] < 0.1, (established, ranked.round(3).to_dict())


@pytest.mark.parametrize("name,state", [("overt_hypothyroid", "overt_hypo"), ("overt_hyperthyroid", "overt_hyper")])
def test_thyroid_tests_name_the_overt_state(net, with_context, name, state):
    """Addendum §3b: TSH high with low free T4 is overt hypothyroidism; TSH low with high free T4
    overt hyperthyroidism."""
    dx = bayesdx.diagnose(net, evidence=_evidence(name, with_context))
    assert dx.marginal("thyroid_disease").idxmax() == state


@pytest.mark.parametrize("name,subtype", [("statin_necrotizing", "imnm"), ("inclusion_body", "ibm")])
def test_myositis_subtype(net, with_context, name, subtype):
    """Addendum §6b-6e: CK > 1000, statins and anti-HMGCR -> necrotizing myopathy; an older man
    with the finger-flexor / quadriceps pattern, CK < 1000 and myopathic EMG -> IBM."""
    marginal = bayesdx.diagnose(net, evidence=_evidence(name, with_context)).marginal("inflammatory_myopathy")
    assert marginal.drop("absent").idxmax() == subtype
    assert marginal[subtype] > 0.5


def test_risk_factors_raise_pad():
    """Dossier §3-C: smoking OR 3.9 [S90]; exertional pain and pulses add [S33, S37]."""
    net = network_at(0.03)

    def pad(ev):
        return bayesdx.diagnose(net, evidence=ev).probability_not_reference()["peripheral_artery_disease"]

    base, smoker = pad({}), pad({"smoking": "current"})
    full = pad({"smoking": "current", "exertional_leg_pain": "present", "pedal_pulses": "diminished"})
    assert base < smoker < full
    assert full > 5 * base


def test_the_bundled_file_is_the_network_tested():
    bundled = bayesdx.load_network("fasciculation")
    assert bundled.spec.version == "0.2.0" and bundled.spec.format == "bayesdx/2"
    a = bayesdx.diagnose(bundled, evidence=_evidence("young_benign", True)).probability_not_reference()
    b = bayesdx.diagnose(network_at(0.03), evidence=_evidence("young_benign", True)).probability_not_reference()
    assert a.to_dict() == pytest.approx(b.to_dict(), abs=1e-12)


def test_focal_weakness_over_40_makes_the_emg_study_the_next_order(net):
    """Dossier §6: objective focal weakness or atrophy plus fasciculations over 40 -> EMG/NCS has
    the highest value (it tells ALS, radiculopathy, neuropathy and myopathy apart: information);
    under 40 with a normal examination the expected next test is TSH (or electrolytes), not EMG
    (S6): ranked by the network's decision model (addendum §9), a cheap blood test comes first and
    the EMG study is not worth its price."""
    older_ev = {"age_band": "age_40_69", "fasciculations_exam": "present", "distal_weakness": "present",
                **{k: v for k, v in NORMAL_EXAM.items() if k != "distal_weakness"}}
    young_ev = {"age_band": "age_lt_40", "fasciculations_exam": "present", **NORMAL_EXAM}
    older = bayesdx.diagnose(net, evidence=older_ev, objective="information")
    young = bayesdx.diagnose(net, evidence=young_ev, objective="information")
    assert older.next_test == "emg_ncs", older.ranking.head(3)
    assert older.ranking.loc["emg_ncs", "info_gain_bits"] > 2 * young.ranking.loc["emg_ncs", "info_gain_bits"]
    young_dx = bayesdx.diagnose(net, evidence=young_ev)
    top = young_dx.ranking.iloc[0]
    assert young_dx.next_test != "emg_ncs" and top["kind"] == "lab" and top["cost_usd"] <= 50, young_dx.ranking.head(3)
    assert young_dx.ranking.loc["emg_ncs", "net_value_utils"] < 0

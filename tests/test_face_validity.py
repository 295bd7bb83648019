"""Clinical face validity of the bundled network: the cases the dossier's decision anchors
(EVIDENCE.md §6) describe must put the expected disease on top. These check the network file,
not the engine (exactness is tested elsewhere)."""

from __future__ import annotations

import pytest

import bayesdx

NORMAL_EXAM = {
    "proximal_weakness": "absent", "distal_weakness": "absent", "atrophy": "absent",
    "reflexes": "normal", "umn_signs": "absent", "bulbar_signs": "absent",
}

CASES = [
    ("myositis", {"ck": "gt_1000", "proximal_weakness": "present", "dermatomyositis_rash": "present"},
     "inflammatory_myopathy"),
    ("young_benign", {"age_band": "age_lt_40", "fasciculations_exam": "present", "cramps": "present", **NORMAL_EXAM},
     "cramp_fasciculation_syndrome"),
    ("lower_motor_neuron", {"age_band": "age_40_69", "fasciculations_exam": "present", "distal_weakness": "present",
                            "atrophy": "present", "reflexes": "hyper", "umn_signs": "present",
                            "emg_denervation": "present"}, "als"),
    ("claudication", {"age_band": "age_ge_70", "smoking": "current", "exertional_leg_pain": "present",
                      "pedal_pulses": "diminished", "abi": "low"}, "peripheral_artery_disease"),
    ("hypothyroid", {"tsh": "high", "free_t4": "low", "ck": "mild", "reflexes": "hypo"}, "thyroid_disease"),
    ("b12", {"sensory_symptoms": "present", "b12": "low", "mma": "elevated", "metformin": "yes"}, "b_vitamin_deficiency"),
]


@pytest.mark.parametrize("evidence,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_expected_disease_is_most_probable(fasciculation, evidence, expected):
    dx = bayesdx.diagnose(fasciculation, evidence=evidence)
    ranked = dx.probability_not_reference()
    assert ranked.index[0] == expected, ranked.round(3).to_dict()
    assert ranked.iloc[0] > 0.5


def test_risk_factors_raise_pad(fasciculation):
    base = bayesdx.diagnose(fasciculation).probability_not_reference()["peripheral_artery_disease"]
    smoker = bayesdx.diagnose(fasciculation, evidence={"smoking": "current"}).probability_not_reference()
    full = bayesdx.diagnose(fasciculation, evidence={"smoking": "current", "exertional_leg_pain": "present",
                                                     "pedal_pulses": "diminished"}).probability_not_reference()
    assert base < smoker["peripheral_artery_disease"] < full["peripheral_artery_disease"]
    assert full["peripheral_artery_disease"] > 5 * base


def test_focal_weakness_over_40_makes_emg_worth_more_than_in_a_young_normal_exam(fasciculation):
    """§6: objective focal weakness over 40 -> EMG has high value; under 40 with a normal exam,
    EMG is worth far less (reassure, check TSH)."""
    older = bayesdx.diagnose(fasciculation, evidence={
        "age_band": "age_40_69", "fasciculations_exam": "present", "distal_weakness": "present",
        **{k: v for k, v in NORMAL_EXAM.items() if k != "distal_weakness"}})
    young = bayesdx.diagnose(fasciculation, evidence={
        "age_band": "age_lt_40", "fasciculations_exam": "present", **NORMAL_EXAM})
    assert older.next_test.startswith("emg_"), older.ranking.head(3)
    gain_old = older.ranking.loc["emg_denervation", "info_gain_bits"]
    gain_young = young.ranking.loc["emg_denervation", "info_gain_bits"]
    assert gain_old > 5 * gain_young

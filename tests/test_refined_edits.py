"""The refined-edits measurement (issue 14) runs end to end on the shipped avatars64: every shipped
supervised direction is measured on generated, encoded and refined versions of the same faces."""
import json

from avatarforge.models.training import refined_edits


def test_directions_are_measured_on_generated_encoded_and_refined_faces(tmp_path):
    refined_edits.main(["--faces", "4", "--refine-steps", "2", "--out", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    manifest = json.loads(open("models/zoo/avatars64/manifest.json").read())
    assert set(report["directions"]) == {d["name"] for d in manifest["directions"]}
    for row in report["directions"].values():
        assert set(row) == {"generated", "encoded", "refined"}
        assert all(0 <= v["success"] <= 1 and 0 <= v["unchanged"] <= 1 for v in row.values())
    assert report["refinement"]["steps_mean"] <= 2
    # Refinement moves the faces towards their pictures: never further than the encoder's guess.
    assert report["psnr_db"]["refined"] >= report["psnr_db"]["encoded"] - 0.5

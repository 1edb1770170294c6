"""The project's ResNets keep torchvision's layout: its state_dicts load, names and shapes match.

torchvision cannot be imported here, so its layout is written out below from its published
definition (v1.5 ResNets: stem, four stages, stride on the 3×3 conv of a bottleneck) and from its
published parameter counts, independently of engine/models/resnet.py.
"""

from __future__ import annotations

import pytest
import torch

from filmline.engine.errors import BadInputError
from filmline.engine.models.resnet import ResNet, torchvision_to_sequential
from filmline.engine.models.trigger import TriggerConfig, TriggerModel
from filmline.engine.models.trigger_checkpoint import load_backbone_weights

# torchvision.models.resnet18/50(): parameters and state_dict entries
PUBLISHED = {"resnet18": (11_689_512, 122), "resnet50": (25_557_032, 320)}


def _bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (channels,), f"{prefix}.bias": (channels,), f"{prefix}.running_mean": (channels,),
        f"{prefix}.running_var": (channels,), f"{prefix}.num_batches_tracked": (),
    }


def torchvision_layout(name: str, width: int = 64) -> dict[str, tuple[int, ...]]:
    """Key → shape of torchvision's `resnet18()` / `resnet50()` state_dict (at base width `width`)."""
    bottleneck = name == "resnet50"
    counts = (3, 4, 6, 3) if bottleneck else (2, 2, 2, 2)
    expansion = 4 if bottleneck else 1
    keys = {"conv1.weight": (width, 3, 7, 7), **_bn("bn1", width)}
    inplanes = width
    for stage, count in enumerate(counts, start=1):
        planes = width * 2 ** (stage - 1)
        for block in range(count):
            p = f"layer{stage}.{block}"
            if bottleneck:
                keys[f"{p}.conv1.weight"] = (planes, inplanes, 1, 1)
                keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
                keys[f"{p}.conv3.weight"] = (planes * 4, planes, 1, 1)
                for n, c in ((1, planes), (2, planes), (3, planes * 4)):
                    keys.update(_bn(f"{p}.bn{n}", c))
            else:
                keys[f"{p}.conv1.weight"] = (planes, inplanes, 3, 3)
                keys[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
                keys.update(_bn(f"{p}.bn1", planes))
                keys.update(_bn(f"{p}.bn2", planes))
            if block == 0 and (stage > 1 or inplanes != planes * expansion):
                keys[f"{p}.downsample.0.weight"] = (planes * expansion, inplanes, 1, 1)
                keys.update(_bn(f"{p}.downsample.1", planes * expansion))
            inplanes = planes * expansion
    keys["fc.weight"] = (1000, inplanes)
    keys["fc.bias"] = (1000,)
    return keys


def random_state(layout: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in layout.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_full_width_resnet_has_torchvision_names_shapes_and_counts(name: str) -> None:
    model = ResNet(name)
    parameters, entries = PUBLISHED[name]
    assert sum(p.numel() for p in model.parameters()) == parameters
    state = model.state_dict()
    assert len(state) == entries
    assert {k: tuple(v.shape) for k, v in state.items()} == torchvision_layout(name)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torchvision_state_dict_loads_strictly_and_drives_the_output(name: str) -> None:
    model = ResNet(name, width=8)
    state = random_state(torchvision_layout(name, width=8))
    state["fc.weight"] = torch.zeros_like(state["fc.weight"])
    state["fc.bias"] = torch.arange(1000, dtype=torch.float32)
    model.load_state_dict(state, strict=True)
    assert torch.equal(model.layer2[0].downsample[0].weight, state["layer2.0.downsample.0.weight"])
    with torch.inference_mode():
        output = model.eval()(torch.rand(2, 3, 64, 64))
    assert torch.equal(output, state["fc.bias"].expand(2, -1))


def test_published_weight_files_load_into_the_trigger_backbone(tmp_path) -> None:
    """Like torchvision's downloadable files: no num_batches_tracked, an ImageNet `fc`."""
    layout = torchvision_layout("resnet18", width=8)
    state = {k: v for k, v in random_state(layout).items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "resnet18.pth")
    model = TriggerModel(TriggerConfig(encoder="resnet18", width=8, image_size=32))
    load_backbone_weights(model, tmp_path / "resnet18.pth")
    backbone = model.visual_encoder.backbone
    assert torch.equal(backbone[0].weight, state["conv1.weight"])  # conv1 is the original's backbone.0
    assert torch.equal(backbone[7][1].bn2.running_var, state["layer4.1.bn2.running_var"])
    assert set(torchvision_to_sequential(state)) == {k for k in backbone.state_dict() if not k.endswith("num_batches_tracked")}


def test_weights_of_another_network_are_refused(tmp_path) -> None:
    torch.save(random_state(torchvision_layout("resnet50", width=8)), tmp_path / "resnet50.pth")
    model = TriggerModel(TriggerConfig(encoder="resnet18", width=8, image_size=32))
    with pytest.raises(BadInputError, match=r"resnet50\.pth does not fit a resnet18 of width 8"):
        load_backbone_weights(model, tmp_path / "resnet50.pth")
    torch.save({"pos_embed": torch.zeros(1, 60, 512)}, tmp_path / "intro.pt")
    with pytest.raises(BadInputError, match="is not a torchvision ResNet state_dict"):
        load_backbone_weights(model, tmp_path / "intro.pt")

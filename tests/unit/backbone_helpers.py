"""Shared by the backbone tests (no tests here): every architecture the table lists."""

LISTED = (
    ["resnet-50", "resnet-101", "resnet-152", "resnet-50-v2", "resnet-101-v2", "resnet-152-v2",
     "inception-v3", "inception-resnet-v2", "xception", "mobilenet", "mobilenet-v2",
     "mobilenet-v3-small", "mobilenet-v3-large", "vgg-16", "vgg-19", "densenet-121",
     "densenet-169", "densenet-201", "nasnet-mobile", "nasnet-large"]
    + [f"efficientnet-b{i}" for i in range(8)]
    + [f"efficientnet-v2-{v}" for v in ("b0", "b1", "b2", "b3", "s", "m", "l")]
    + [f"convnext-{v}" for v in ("tiny", "small", "base", "large", "xlarge")])

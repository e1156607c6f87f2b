"""Every option the imagenet model plugin declares: training, features, prediction.

Declarations only (no TensorFlow, no Pillow): ``ml help`` and argument
parsing read them.
"""
from vergeml.data.formats import RESIZE_MODES
from vergeml.models.imagenet.training.augment import AUGMENTATIONS, AUTO_AUGMENT, DEFAULT_AUGMENT
from vergeml.models.imagenet.backbones import architecture_names
from vergeml.settings.option import Option

TRAIN_OPTIONS = (
    Option("epochs", default=100, type="int", rule=">0",
           help="How many epochs to train the top (the best epoch is kept)."),
    Option("architecture", default="resnet-50", choices=tuple(architecture_names()),
           help="Name of the pre-trained network used as feature extractor."),
    Option("variant", default="auto",
           help="Member of an architecture family: densenet 121/169/201, nasnet mobile/large, "
                "efficientnet b0-b7, efficientnet-v2 b0-b3/s/m/l, convnext tiny-xlarge, "
                "mobilenet-v3 small/large (auto: the family's default)."),
    Option("size", default="auto", type="int", rule="32..4096", also=("auto",),
           help="Input size in pixels (auto: the architecture's default)."),
    Option("alpha", default=1.0, type="float", rule=">0", help="Width multiplier of mobilenet networks."),
    Option("layers", default=1, type="int", rule="1..100",
           help="Dense layers of the trained top, including the softmax layer."),
    Option("output-layer", default="last",
           help="Layer of the network (name or index) whose output is used as features."),
    Option("batch-size", default=64, type="int", rule="1..65536", help="Samples per training batch."),
    Option("optimizer", default="adam", choices=("sgd", "adam"), help="Optimizer used to train the top."),
    Option("learning-rate", default="auto", type="float", rule=">0", also=("auto",),
           help="Learning rate of the optimizer (auto: 0.01)."),
    Option("decay", default=0.0, type="float", rule=">=0", help="Learning rate decay per step (inverse time decay)."),
    Option("dropout", default=0.0, type="float", rule="0..0.99",
           help="Dropout rate before each dense layer (0 means none)."),
    Option("l2", default="auto", type="float", rule=">=0", also=("auto",),
           help="L2 penalty on the weights of the top's dense layers, added to the mean loss "
                "(auto: 1/(4 x training samples), as scikit-learn's LogisticRegression at C=2; "
                "0 means none)."),
    Option("class-weights", default=["auto"], type="list", metavar="WEIGHTS",
           help="How much each class counts: auto (when the largest class has 3x the images "
                "of the smallest, the outputs are adjusted for the class frequencies so each class "
                "counts the same in the decisions; else none), adjusted (always), none, or "
                "label:weight pairs such as dog:5,cat:1 (weights in the training loss)."),
    Option("early-stopping-delta", default=0.0, type="float", rule=">=0",
           help="Smallest decrease of validation loss that counts as improvement."),
    Option("early-stopping-patience", default=20, type="int", rule=">=0",
           help="Epochs without improvement of the validation loss before training stops "
                "early (0 means off; the best epoch is kept either way)."),
    Option("weights", default="imagenet",
           help="Backbone weights: imagenet, none (random), or the path of a weights file."),
    Option("resize", default="fill", choices=RESIZE_MODES,
           help="How images are fitted to the input size: stretch, crop or letterbox."),
    Option("fine-tune-epochs", default=0, type="int", rule=">=0", also=("auto",),
           help="Epochs of phase 2: after the top is trained, fine-tune backbone and top end to "
                "end on augmented images (0: train the top only, as the original; auto: a "
                "budget chosen from the data, about 150 steps within 8-30 epochs). Phase 2 "
                "follows a recipe: whole blocks unfrozen, rates lower with depth, warm-up then "
                "cosine decay, label smoothing, early stopping on validation loss; its last "
                "epoch is kept unless the top's best epoch beats it on validation by more than "
                "one standard error."),
    Option("fine-tune-layers", default="auto", type="int", rule=">=1", also=("all", "auto"),
           help="How many of the backbone's last layers with weights to unfreeze in phase 2 "
                "(BatchNormalization stays frozen), all, or auto: every block, or the later "
                "half of them with under 50 training images per class."),
    Option("fine-tune-learning-rate", default="auto", type="float", rule=">0", also=("auto",),
           help="Learning rate of phase 2 (auto: 3% of learning-rate, given or auto: "
                "0.0003 with learning-rate 0.01)."),
    Option("augment", default=list(DEFAULT_AUGMENT), type="list",
           help="Augmentation of phase 2's training images, each name[:strength]: "
                + ", ".join(AUGMENTATIONS) + "; none for no augmentation; auto for the "
                "recipe's: " + ", ".join(AUTO_AUGMENT) + "."),
    Option("runtime", default="tensorflow", choices=("tensorflow", "openvino"),
           help="What runs the backbone to extract features: tensorflow, or openvino "
                "(a faster CPU runtime, f32; needs pip install 'vergeml[openvino]')."),
    Option("tta", type="bool", flag=True, default=False,
           help="Test-time augmentation: the test evaluation averages the probabilities over "
                "flips and a central crop of each image; the instance remembers it, so predict "
                "and the REST service use it too."),
    Option("name", help="Name of the trained instance (default: a random robot name)."),
    Option("resume", metavar="@NAME",
           help="Continue the cancelled or crashed run @NAME from its last completed epoch "
                "(same as ml @NAME resume)."),
)

# The train options that decide what the backbone extracts (the feature cache key).
FEATURE_OPTION_NAMES = ("architecture", "variant", "size", "alpha", "output-layer", "weights", "resize")
FEATURE_OPTIONS = tuple(o for o in TRAIN_OPTIONS if o.name in FEATURE_OPTION_NAMES)

# Per-request prediction options (ml predict, the REST service).
RESIZE_OPTION = Option("resize", choices=RESIZE_MODES,
                       help="How to fit images to the model's input size "
                            "(default: the mode used in training).")
TTA_OPTION = Option("tta", type="bool", flag=True,
                    help="Average the probabilities over flips and a central crop of each image "
                         "(default: as the instance was trained, with or without --tta).")
REJECT_OPTION = Option("reject", default="auto", type="float", rule=">=0", also=("auto", "off"),
                       metavar="auto|off|SCORE",
                       help="Say unknown for an image unlike every class the model was trained on: "
                            "auto (the threshold fitted in training, keeping 97% of its known "
                            "images), off, or a threshold on the unknown score.")
PREDICT_OPTIONS = (RESIZE_OPTION, TTA_OPTION, REJECT_OPTION)

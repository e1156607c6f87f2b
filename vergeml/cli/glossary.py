"""Definitions shown by ``ml help glossary`` and ``ml help <term>``."""

GLOSSARY = {
    "accuracy": "The share of samples whose predicted class (the one with the highest "
                "probability) is the true class. 0.9 means 9 out of 10 are right. "
                "acc is measured on the training split, val_acc on the validation split "
                "and test_acc on the test split.",
    "adam": "An optimizer that adapts the step size of every weight from running averages "
            "of its gradients. Often converges faster than plain SGD with less tuning of "
            "the learning rate. Select it with --optimizer=adam.",
    "architecture": "The pre-trained network used to turn images into features, such as "
                    "resnet-50 or mobilenet. Bigger networks give better features but are "
                    "slower. See 'ml help train' for the list.",
    "auc": "Area under the ROC curve, from 0.5 (guessing) to 1 (every positive ranked above "
           "every negative): how well the predicted probabilities separate the classes, "
           "whatever the threshold. Measured on the test split after training (one-vs-rest, "
           "averaged over the classes when there are more than two; left out when a class "
           "has no test sample); see 'ml list -c auc' and 'ml plot:roc'.",
    "batch size": "How many samples are processed together before the weights are updated "
                  "once. Larger batches give smoother gradients and use more memory; "
                  "smaller batches update more often.",
    "cache dir": "The folder (default .cache) where VergeML keeps preprocessed images and "
                 "the features computed by the network, so that a second training run with "
                 "unchanged data skips that work. Deleting it is safe.",
    "checkpoint": "The weights of the model saved during training. VergeML saves one after "
                  "an epoch only when validation accuracy improved, so the checkpoint in "
                  "trainings/<name>/checkpoints is always the best epoch.",
    "decay": "How fast the learning rate shrinks while training: after n steps the "
             "learning rate is learning_rate / (1 + decay * n). 0 keeps it constant.",
    "dropout": "A regularisation technique: during training a random share of the inputs "
               "of a layer is set to zero, so the model cannot rely on any single feature. "
               "0.5 drops half. Helps against overfitting; 0 turns it off.",
    "early stopping": "Stop training when the validation loss has not improved by at least "
                      "--early-stopping-delta for --early-stopping-patience epochs in a row. "
                      "Saves time and avoids overfitting. Patience 0 turns it off.",
    "environment variables": "VERGEML_DEBUG=1 shows Python tracebacks for errors. "
                             "KERAS_HOME sets where Keras keeps downloaded weights "
                             "($KERAS_HOME/models). CUDA_VISIBLE_DEVICES selects GPUs.",
    "epochs": "One epoch is one pass over every training sample. --epochs sets how many "
              "passes training makes. Too few underfit, too many may overfit; the best "
              "epoch is kept either way.",
    "fine-tuning": "Phase 2 of training: after the top is trained on the cached features, "
                   "the backbone's last layers are unfrozen and trained together with the top "
                   "on augmented images, at a small learning rate. Slower than phase 1, which "
                   "trains on cached features. Off by default; turn it on with "
                   "--fine-tune-epochs=N, and see --fine-tune-layers, "
                   "--fine-tune-learning-rate and --augment ('ml help train').",
    "hyperparameters": "The settings of a training run chosen before it starts (learning "
                       "rate, epochs, batch size, dropout, ...), as opposed to the weights "
                       "the model learns. Set them on the command line or under train: in "
                       "vergeml.yaml.",
    "balanced accuracy": "The mean of the per-class recalls on the test split "
                         "(balanced_acc): each class counts the same, however many images it "
                         "has. Always saying the big class scores high accuracy but a "
                         "balanced accuracy of 1 / classes.",
    "class weights": "How much each class counts (--class-weights). auto, the default, when the "
                     "largest class has at least 3 times the images of the smallest (and says so), "
                     "adjusts the saved model's outputs for the class frequencies (each class's "
                     "logit lowered by log of its share of the training images), so every class "
                     "counts the same in the decisions. adjusted: always; none: every image counts "
                     "the same; or label:weight pairs such as dog:5, weights in the training loss.",
    "macro f1": "The mean over the classes of the F1 score on the test split (macro_f1): like "
                "balanced accuracy, it shows a class that is lost.",
    "calibration": "Whether the model's confidence matches how often it is right: of the images "
                   "it gives 80%, 80% should be right. test_ece (expected calibration error) is "
                   "the mean gap between confidence and accuracy over 15 confidence bins of the "
                   "test split; 0 is perfect. ml train fits a temperature on the validation split "
                   "and keeps it only when it pays there (results: temperature).",
    "unknown": "What ml predict says for an image unlike every class the model was trained on "
               "(a face shown to an ants-and-bees model): its unknown score, the cosine distance "
               "of its backbone features to the 2 nearest training images, is over the threshold "
               "fitted in training (keeping 97% of the known images). --reject=off turns it off, "
               "--reject=<score> moves the threshold; test_rejected in ml list is the share of the "
               "model's own test images it would reject (false alarms).",
    "l2": "A penalty on large weights added to what training minimises: l2 times the sum "
          "of the squared weights of the top's dense layers. It keeps the classifier simple "
          "and helps against overfitting, like dropout. The loss, val_loss and test_loss "
          "shown and stored leave it out (plain cross-entropy); it is shown apart as "
          "l2_penalty. Set it with --l2: auto (the default, 1/(4 x training samples)), a "
          "number, or 0 for none.",
    "layers": "How many dense layers the trained top has, including the final softmax "
              "layer. 1 is a linear classifier on the features; each extra layer adds "
              "1024 hidden units.",
    "learning rate": "How big a step the optimizer takes on each update. Too high and "
                     "training diverges (loss grows or jumps); too low and it crawls. "
                     "Typical values are 0.0001 to 0.01.",
    "loss": "The cross-entropy between predicted probabilities and the true classes: how "
            "far predictions are from the truth, lower is better. loss is measured on the "
            "training split, val_loss and test_loss on the other splits; none of them "
            "includes the l2 penalty.",
    "optimizer": "The algorithm that updates the weights from the gradients: sgd "
                 "(stochastic gradient descent with momentum 0.9) or adam.",
    "overfitting": "The model learns the training samples by heart instead of the general "
                   "pattern: training accuracy keeps rising while validation accuracy "
                   "stalls or falls. Remedies: more data, augmentation, dropout, fewer "
                   "epochs or early stopping.",
    "precision": "Of the samples predicted as a class, the share that really are that "
                 "class. Recall is the other side: of the samples of a class, the share "
                 "predicted as it; F1 is their harmonic mean. Stored per label after "
                 "training on the test split (<label>_precision, <label>_recall, "
                 "<label>_f1: 'ml list -c cat-precision'); 'ml plot:pr' draws the "
                 "precision-recall curves.",
    "project": "A folder with a vergeml.yaml project file, a samples folder and, after "
               "training, a trainings folder. Create one with 'ml new <name>'.",
    "project file": "vergeml.yaml in the project folder: the model, data settings and "
                    "default options of each command. Values typed on the command line "
                    "override it.",
    "random seed": "The number all random choices start from (splits, augmentation, weight "
                   "initialisation). The same seed gives the same split and, data "
                   "unchanged, the same training.",
    "samples": "The images to learn from, in samples/<class>/: the folder name is the "
               "class label.",
    "sgd": "Stochastic gradient descent: each batch moves the weights a small step "
           "(the learning rate) against the gradient of the loss. VergeML uses momentum 0.9.",
    "split": "How samples are divided into a training, a validation and a test set. "
             "Percentages apply per class; the assignment is remembered in "
             "vergeml.splits.json, so adding images never moves a val or test image to "
             "training.",
    "stats": "The numbers recorded while training: accuracy and loss per epoch on the "
             "training and validation splits, and on the test split at the end. See "
             "'ml list' and 'ml run:tensorboard'.",
    "test split": "Samples held out until training ends, used once to measure how well the "
                  "final model generalises (test_acc, test_loss). Set with --test-split: a "
                  "percentage (10%), a count (100) or a directory.",
    "underfitting": "The model is too simple or trained too briefly to capture the pattern: "
                    "both training and validation accuracy stay low. Remedies: more epochs, "
                    "a higher learning rate, more layers or a bigger architecture.",
    "val split": "Samples held out from training and evaluated after every epoch "
                 "(val_acc, val_loss) to pick the best epoch. Set with --val-split: a "
                 "percentage (10%), a count (100) or a directory.",
    "validation set": "See 'val split'.",
    "test set": "See 'test split'.",
}

SYNONYMS = {
    "stochastic gradient descent": "sgd",
    "hyperparameter": "hyperparameters",
    "project dir": "project",
    "training samples": "samples",
    "overfit": "overfitting",
    "underfit": "underfitting",
    "epoch": "epochs",
    "acc": "accuracy",
    "val acc": "accuracy",
    "test acc": "accuracy",
    "val loss": "loss",
    "test loss": "loss",
    "validation split": "val split",
    "lr": "learning rate",
    "seed": "random seed",
    "fine tune": "fine-tuning",
    "finetune": "fine-tuning",
    "fine tuning": "fine-tuning",
    "recall": "precision",
    "f1": "precision",
    "roc auc": "auc",
    "l2 regularization": "l2",
    "weight decay": "l2",
    "balanced acc": "balanced accuracy",
    "class weight": "class weights",
}


def lookup(topic):
    """Return ``(term, definition)`` for a glossary topic, or None.

    Hyphens, underscores and case do not matter; synonyms resolve to their term.
    """
    key = " ".join(topic.replace("-", " ").replace("_", " ").lower().split())
    key = SYNONYMS.get(key, key)
    if key in GLOSSARY:
        return key, GLOSSARY[key]
    return None

"""Random robot names for training instances (``nervous-tron``, ``optimum-neuron``).

Names are ``<adjective>-<noun>``, lower case, and always match the ``@name``
pattern ``^[a-z0-9-]+$``. Drawing uses a caller-supplied or private
:class:`random.Random`, never the global one, so naming a run does not
disturb seeded randomness elsewhere (the original reseeded the global RNG).
"""

ADJECTIVES = tuple("""
able absolute accepted accurate active actual adapted adept adequate advanced
agile alert alive amazing amused ample amusing ancient apt arcane ardent artful
assured astute atomic august awake aware balanced beloved big blessed blithe
bold boss brave bright brilliant brisk busy calm capable careful caring casual
central certain charming cheerful chief choice civil classic clean clear clever
close cognitive coherent comic complete composed concise content cool correct
cosmic cozy crack creative crisp cuddly curious cute daring dashing dear decent
deep defiant deft delicate desired devoted digital diligent direct discrete
divine dynamic eager earnest easy eclectic electric elegant elite eminent enabled
endless enhanced epic equal eternal ethical exact excited expert fabulous fair
faithful famous fancy fast fearless festive fine firm fit flexible fluent
fluffy fond frank free fresh friendly frugal full funky funny fuzzy gallant
game gentle genuine giant gifted glad glowing golden good gorgeous graceful
grand grateful great groovy guided handy happy hardy harmless hearty helpful
heroic hip holy honest hopeful huge humane humble hungry ideal immense
improved infinite informed innocent inspired intense intent jazzy jolly jovial
joyful just keen kind known large lasting lavish legal lenient level light
likely lively living logical loved loyal lucid lucky magical majestic mature
maximum measured mellow merry mighty minty modern modest moral mutual natty
neat needed nervous new nice nifty nimble noble normal notable novel optimal
optimum orderly organic patient peaceful perfect pet picked pleasant plucky
poetic polished polite positive possible powerful precious precise premium
prepared present pretty primary prime proactive prompt proper proud pumped
quick quiet quirky radiant rapid rare ready real regal relaxed renewed resolved
rested rich robust romantic rosy royal rugged sacred safe saving secure select
sensible serene settled sharp shining shiny silent simple sincere skilled sleek
smart smooth snappy snazzy solid sound sparkly special speedy splendid sporty
stable steady stellar still stirring stoic strong sturdy subtle suited sunny
super superb supreme sure sweet swift talented tender thankful thorough tidy
tight timely tireless tough tranquil trusted trusty ultimate unique united
upbeat upright urbane useful valid valiant vast verified vibrant vital vivid
warm wary whole wild willing wise witty worthy young zany zealous zen zesty
""".split())

NOUNS = tuple("""
algo android autobot automaton avatar baymax bb8 bender bishop bit bolt bot
byte c3po chappie chip circuit clank cog cogsworth cortex cyborg cylon dalek
data decepticon deckard dewey droid dynamo echo eve gadget galvatron gear
gigantor gizmo golem gort grimlock hal9000 huey ig88 iron-giant jaeger jarvis
johnny5 k2so kitt kryten kronos louie marvin mazinger mecha megatron metalhead
mettaton mo motherboard nano neuron nexus optimus pixel probe processor
prototype protocol pulse qubit r2d2 relay replicant robbie robo robocop robot
rosie rover sensor servo sonny spark sprocket starscream synapse synth t1000
t800 tachikoma terminator tik-tok tin-man tron ultron unit vector vicki voltron
wall-e widget wire x-bot zord
""".split())

def random_name(rng=None):
    """Draw one ``adjective-noun`` name.

    Args:
        rng: a :class:`random.Random`; a fresh system-seeded one when None.

    Returns:
        A lower-case name such as ``nervous-tron``.
    """
    if rng is None:
        import random
        rng = random.Random()
    return f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"

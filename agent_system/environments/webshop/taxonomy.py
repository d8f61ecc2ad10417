"""WebShop's task taxonomy: the five catalogue categories, their aliases, and a keyword
classifier of the instruction text.

An episode's task type is its goal's ``category`` (the env's hint, authoritative); without a
hint :func:`classify_instruction` reads the instruction (90.6 % agreement with the catalogue
category on the 1k-product instructions).
"""

from __future__ import annotations

import re

from agent_system.environments.taxonomy import TaskTaxonomy

CATEGORIES = ("beauty", "electronics", "fashion", "garden", "grocery")
"""The five top-level catalogue categories (a goal's ``category`` is its task type)."""

ALIASES = {  # other names of the categories (normalised) -> category
    "food": "grocery",
    "groceries": "grocery",
    "grocery_gourmet_food": "grocery",
    "furniture": "garden",
    "home": "garden",
    "home_kitchen": "garden",
    "home_and_kitchen": "garden",
    "home_garden": "garden",
    "clothing": "fashion",
    "apparel": "fashion",
    "clothing_shoes_jewelry": "fashion",
    "beauty_personal_care": "beauty",
    "cosmetics": "beauty",
    "electronic": "electronics",
}

# keyword -> weight; multi-word keys match as phrases. Built from the catalogue's product
# types and the attribute words its goals use.
KEYWORDS: dict[str, dict[str, float]] = {
    "beauty": dict.fromkeys(
        "shampoo conditioner hair wig wigs extensions makeup mascara eyeliner eyeshadow lipstick lip gloss "
        "foundation concealer nail nails polish manicure pedicure skin skincare serum moisturizer lotion cream "
        "cleanser toner sunscreen perfume fragrance cologne deodorant antiperspirant toothpaste toothbrush "
        "teeth whitening oral tongue mouthwash floss soap body wash scrub bath shower razor shaving beard "
        "eyebrow eyelash lashes brush brushes cosmetic cosmetics tattoo piercing salon dry_skin sensitive_skin "
        "dead_skin acne wrinkle anti_aging paraben cruelty_free dermatologist spa massage essential_oil "
        "curling straightener hair_dryer comb palette blush bronzer highlighter".split(),
        1.0,
    ),
    "electronics": dict.fromkeys(
        "electronics electronic bluetooth wireless usb hdmi cable charger charging battery batteries speaker "
        "speakers headphone headphones earbuds earphones headset microphone camera cameras lens tripod "
        "binoculars telescope projector tv television monitor screen protector tablet ipad iphone phone "
        "smartphone laptop computer keyboard mouse router wifi modem antenna receiver amplifier amplifiers "
        "stereo audio video surveillance security_camera dash_cam gps drone radio subwoofer soundbar "
        "streaming 4k 1080p hd high_definition quad_core dual_band memory_card sd_card hard_drive ssd "
        "power_bank adapter remote_control smartwatch wearable photography flash flashes cd dvd player "
        "players recorder noise_cancelling gaming console controller printer ink".split(),
        1.0,
    ),
    "fashion": dict.fromkeys(
        "shirt shirts t-shirt tshirt tee tees top tops blouse blouses dress dresses skirt skirts pants jeans "
        "shorts leggings jacket jackets coat coats hoodie hoodies sweater sweatshirt cardigan vest suit "
        "underwear bra lingerie panties boxer briefs socks swimsuit swimsuits bikini pajama pajamas sleepwear "
        "jumpsuit jumpsuits romper rompers overalls henley henleys polo shoes shoe sneakers sneaker boots "
        "boot sandals sandal heels heel pumps slippers loafers flats jewelry necklace bracelet earrings ring "
        "watch hat cap scarf gloves belt sunglasses handbag wallet men's women's mens womens men women boys "
        "girls girl boy teen toddler baby kids sleeve sleeves long_sleeve short_sleeve slim_fit loose_fit "
        "regular_fit classic_fit relaxed_fit machine_wash hand_wash waist waistband elastic_waist "
        "drawstring polyester spandex cotton nylon fleece rubber_sole zipper button costume".split(),
        1.0,
    ),
    "garden": dict.fromkeys(
        "furniture sofa couch chair chairs table tables desk desks bed beds mattress mattresses frame "
        "headboard dresser nightstand cabinet cabinets shelf shelves bookcase bookshelf rack racks stool "
        "stools bench ottoman tv_stand console_table living_room dining_room bedroom bathroom kitchen office "
        "home_office patio garden outdoor lawn yard planter lamp lamps lighting light lights ceiling_fan "
        "chandelier pendant sconce bulb curtain curtains rug rugs carpet pillow pillows cushion blanket "
        "bedding sheets duvet comforter towel towels wall_art poster posters canvas decor mirror vase clock "
        "storage organizer engineered_wood solid_wood assembly assemble easy_assemble wood wooden metal "
        "space_saving twin_size queen_size king_size full_size box_spring memory_foam tool tools drill "
        "faucet cookware pan pot knife kitchenware".split(),
        1.0,
    ),
    "grocery": dict.fromkeys(
        "food foods snack snacks chips crackers cookies candy chocolate gum coffee tea beverage beverages "
        "drink drinks juice soda water milk milks cream cheese cheeses yogurt butter bread cereal breakfast "
        "oatmeal granola bar bars protein meat jerky fruit fruits dried nuts nut peanut almond almonds "
        "seeds rice pasta noodles sauce sauces spice spices seasoning salt pepper sugar honey syrup oil "
        "vinegar flour baking soup broth meal meals kit kits gluten_free dairy_free non_gmo keto vegan "
        "plant_based organic usda_organic low_sugar sugar_free low_carb high_protein shelf_stable "
        "artificial_flavors artificial_colors natural_ingredients fat_free trans_fat 0g_trans "
        "caffeine decaf flavored flavor fl_oz ounce ounces pound lb grams calorie calories wasabi".split(),
        1.0,
    ),
}

# strong words: a product noun that settles the category
for _cat, _words in {
    "beauty": "shampoo conditioner makeup mascara lipstick perfume toothpaste deodorant wig nail_polish serum",
    "electronics": "headphones earbuds camera speaker charger projector router tv laptop tablet binoculars",
    "fashion": "shirt dress pants jeans shorts sneakers boots sandals jacket hoodie underwear swimsuit bra",
    "garden": "sofa mattress chair table desk bed bookcase cabinet shelf lamp rug curtains ottoman",
    "grocery": "snack coffee tea chocolate cheese jerky cereal crackers cookies juice candy",
}.items():
    for _w in _words.split():
        KEYWORDS[_cat][_w] = 3.0


def _phrase_pattern(word: str) -> re.Pattern[str]:
    phrase = re.escape(word.replace("_", " ")).replace(r"\ ", r"[\s\-]+")
    return re.compile(r"(?<![a-z0-9])" + phrase + r"(?![a-z0-9])")


_PATTERNS = {
    cat: [(_phrase_pattern(w), wt) for w, wt in words.items()] for cat, words in KEYWORDS.items()
}


def category_scores(text: str) -> dict[str, float]:
    """Keyword score of each WebShop category for an instruction (higher = more likely)."""
    t = text.lower()
    # the price clause says nothing about the product
    t = re.sub(r"(and )?price lower than [\d.,]+ dollars", " ", t)
    return {cat: sum(wt for pat, wt in pats if pat.search(t)) for cat, pats in _PATTERNS.items()}


def classify_instruction(text: str, hint: str | None = None) -> str | None:
    """The category whose keywords score highest on an instruction (``None``: no keyword;
    ties go to the earlier category); ``hint`` is unused.

    >>> classify_instruction("i want noise cancelling bluetooth headphones")
    'electronics'
    """
    del hint
    scores = category_scores(text)
    best = max(CATEGORIES, key=lambda c: (scores[c], -CATEGORIES.index(c)))
    return best if scores[best] > 0 else None


TAXONOMY = TaskTaxonomy(
    categories=CATEGORIES,
    aliases=ALIASES,
    classify_text=classify_instruction,
    hint_is_authoritative=True,
)
"""WebShop's :class:`TaskTaxonomy` (``SPEC.taxonomy``)."""

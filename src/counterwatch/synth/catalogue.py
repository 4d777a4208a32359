"""The brand catalogue: well-known brands, their aliases in several scripts, and genuine product lines.

Plain data. ``brands.py`` turns it into the contract's ``brands.json`` records (ids,
trademarks, authorized stores). Reference prices are list prices in the owner's home
currency, roughly realistic; keywords mix English and Chinese as sellers write them.
"""

from __future__ import annotations

from typing import NamedTuple


class Product(NamedTuple):
    name: str
    keywords: tuple[str, ...]
    price: float  # reference price in the brand's currency


class BrandEntry(NamedTuple):
    name: str
    aliases: tuple[str, ...]
    owner: str
    currency: str
    category: str  # key of CATEGORY_PATHS
    products: tuple[Product, ...]


#: Marketplace category path for each catalogue category.
CATEGORY_PATHS: dict[str, str] = {
    "shoes": "shoes/sneakers",
    "bags": "bags/handbags",
    "watches": "watches/wristwatches",
    "apparel": "apparel/tops",
    "electronics": "electronics/audio",
    "phones": "electronics/phones",
    "cosmetics": "beauty/skincare",
    "perfume": "beauty/fragrance",
    "eyewear": "accessories/sunglasses",
    "jewelry": "accessories/jewelry",
    "toys": "toys/collectibles",
}
#: Nice classes a brand's marks are registered in, by category.
NICE_CLASSES: dict[str, tuple[int, ...]] = {
    "shoes": (25,), "bags": (18, 25), "watches": (14,), "apparel": (25, 18), "electronics": (9,),
    "phones": (9, 38), "cosmetics": (3,), "perfume": (3,), "eyewear": (9,), "jewelry": (14,), "toys": (28,),
}  # fmt: skip

P = Product
B = BrandEntry
CATALOGUE: tuple[BrandEntry, ...] = (
    B(
        "Nike",
        ("NIKE", "耐克"),
        "Nike, Inc.",
        "USD",
        "shoes",
        (
            P("Air Jordan 1 Retro High OG", ("air jordan 1", "AJ1", "retro high og", "乔丹1代", "芝加哥配色"), 180),
            P("Air Force 1 '07", ("air force 1", "AF1", "空军一号", "low white"), 115),
            P("Dunk Low Panda", ("dunk low", "panda", "熊猫配色", "SB dunk"), 110),
        ),
    ),
    B(
        "Adidas",
        ("ADIDAS", "阿迪达斯", "阿迪"),
        "adidas AG",
        "EUR",
        "shoes",
        (
            P("Yeezy Boost 350 V2", ("yeezy 350", "boost 350 v2", "椰子鞋", "zebra"), 230),
            P("Samba OG", ("samba og", "德训鞋", "gum sole"), 120),
            P("Ultraboost Light", ("ultraboost", "爆米花跑鞋", "running shoe"), 190),
        ),
    ),
    B(
        "New Balance",
        ("NB", "新百伦"),
        "New Balance Athletics, Inc.",
        "USD",
        "shoes",
        (
            P("990v6 Made in USA", ("990v6", "made in usa", "grey suede", "美产"), 200),
            P("550 White Green", ("nb550", "550", "复古篮球鞋"), 110),
        ),
    ),
    B(
        "Converse",
        ("CONVERSE", "匡威"),
        "Converse Inc.",
        "USD",
        "shoes",
        (P("Chuck 70 High", ("chuck 70", "chuck taylor", "高帮帆布鞋"), 90),),
    ),
    B(
        "Li-Ning",
        ("LI-NING", "李宁", "Li Ning"),
        "Li Ning Company Limited",
        "CNY",
        "shoes",
        (
            P("Way of Wade 10", ("way of wade", "韦德之道10", "basketball"), 1499),
            P("Feidian 4 Elite", ("feidian", "飞电4", "碳板跑鞋"), 1299),
        ),
    ),
    B(
        "Anta",
        ("ANTA", "安踏"),
        "Anta Sports Products Limited",
        "CNY",
        "shoes",
        (P("KT9 Klay Thompson", ("KT9", "汤普森", "篮球鞋"), 999),),
    ),
    B(
        "ASICS",
        ("Asics", "亚瑟士", "Onitsuka Tiger", "鬼塚虎"),
        "ASICS Corporation",
        "JPY",
        "shoes",
        (
            P("Gel-Kayano 14", ("gel kayano 14", "kayano", "复古跑鞋"), 17600),
            P("Mexico 66", ("mexico 66", "鬼冢虎", "yellow black"), 14300),
        ),
    ),
    B(
        "Dr. Martens",
        ("Dr Martens", "DocMartens", "马丁靴"),
        "Dr. Martens plc",
        "GBP",
        "shoes",
        (P("1460 Smooth Leather Boots", ("1460", "8 eye boot", "八孔马丁靴"), 170),),
    ),
    B(
        "Louis Vuitton",
        ("LV", "路易威登", "Louis Vuitton Malletier"),
        "Louis Vuitton Malletier",
        "EUR",
        "bags",
        (
            P("Neverfull MM", ("neverfull", "monogram canvas", "购物袋", "老花"), 2000),
            P("Speedy Bandoulière 25", ("speedy 25", "波士顿枕头包", "damier ebene"), 1900),
            P("Keepall 50", ("keepall", "旅行袋", "duffle"), 2600),
        ),
    ),
    B(
        "Gucci",
        ("GUCCI", "古驰", "古奇"),
        "Guccio Gucci S.p.A.",
        "EUR",
        "bags",
        (
            P("GG Marmont Small Shoulder Bag", ("gg marmont", "matelassé", "马蒙包", "double G"), 2500),
            P("Jackie 1961 Small", ("jackie 1961", "腋下包", "hobo"), 3100),
            P("Ace Sneaker", ("ace sneaker", "小白鞋", "bee embroidery", "小蜜蜂"), 650),
        ),
    ),
    B(
        "Chanel",
        ("CHANEL", "香奈儿", "香奈尔"),
        "Chanel S.A.",
        "EUR",
        "bags",
        (
            P("Classic Flap Bag Medium", ("classic flap", "CF", "lambskin", "菱格链条包", "cf25"), 10400),
            P("Boy Bag", ("boy chanel", "le boy", "小方包"), 6300),
            P("N°5 Eau de Parfum 100ml", ("no5", "n°5", "五号香水", "eau de parfum"), 175),
        ),
    ),
    B(
        "Hermès",
        ("Hermes", "HERMES", "爱马仕"),
        "Hermès International",
        "EUR",
        "bags",
        (
            P("Birkin 30 Togo", ("birkin 30", "togo leather", "铂金包", "palladium hardware"), 11400),
            P("Kelly 28 Epsom", ("kelly 28", "凯莉包", "epsom"), 10600),
            P("Oran Sandal", ("oran", "H拖", "拖鞋"), 690),
        ),
    ),
    B(
        "Prada",
        ("PRADA", "普拉达"),
        "Prada S.p.A.",
        "EUR",
        "bags",
        (
            P("Re-Edition 2005 Re-Nylon", ("re-edition 2005", "re-nylon", "尼龙腋下包", "triangle logo"), 1750),
            P("Galleria Saffiano Medium", ("galleria", "saffiano", "杀手包"), 3900),
        ),
    ),
    B(
        "Dior",
        ("DIOR", "Christian Dior", "迪奥"),
        "Christian Dior Couture",
        "EUR",
        "bags",
        (
            P("Lady Dior Medium", ("lady dior", "戴妃包", "cannage"), 6000),
            P("Saddle Bag", ("saddle bag", "马鞍包", "oblique"), 3900),
            P("Sauvage Eau de Parfum 100ml", ("sauvage", "旷野", "men fragrance"), 145),
        ),
    ),
    B(
        "Fendi",
        ("FENDI", "芬迪"),
        "Fendi S.r.l.",
        "EUR",
        "bags",
        (P("Baguette Medium", ("baguette", "法棍包", "FF logo"), 3300),),
    ),
    B(
        "Balenciaga",
        ("BALENCIAGA", "巴黎世家"),
        "Balenciaga S.A.S.",
        "EUR",
        "shoes",
        (
            P("Triple S Sneaker", ("triple s", "老爹鞋", "chunky sneaker"), 1050),
            P("Le City Bag", ("le city", "机车包"), 2350),
        ),
    ),
    B(
        "Saint Laurent",
        ("YSL", "Yves Saint Laurent", "圣罗兰"),
        "Yves Saint Laurent S.A.S.",
        "EUR",
        "bags",
        (
            P("Loulou Medium", ("loulou", "信封包", "quilted"), 2900),
            P("Rouge Pur Couture Lipstick", ("ysl lipstick", "方管口红", "rouge pur"), 42),
        ),
    ),
    B(
        "Bottega Veneta",
        ("BV", "葆蝶家"),
        "Bottega Veneta S.r.l.",
        "EUR",
        "bags",
        (P("Andiamo Medium", ("andiamo", "intrecciato", "编织包"), 4900),),
    ),
    B(
        "Coach",
        ("COACH", "蔻驰"),
        "Tapestry, Inc.",
        "USD",
        "bags",
        (P("Tabby Shoulder Bag 26", ("tabby 26", "signature canvas", "蔻驰腋下包"), 450),),
    ),
    B(
        "Michael Kors",
        ("MK", "迈克高仕"),
        "Capri Holdings Limited",
        "USD",
        "bags",
        (P("Jet Set Travel Tote", ("jet set", "托特包", "saffiano tote"), 398),),
    ),
    B(
        "Burberry",
        ("BURBERRY", "博柏利", "巴宝莉"),
        "Burberry Group plc",
        "GBP",
        "apparel",
        (
            P("Kensington Heritage Trench Coat", ("kensington trench", "风衣", "honey check"), 1990),
            P("Check Cashmere Scarf", ("check scarf", "格纹围巾", "cashmere"), 450),
        ),
    ),
    B(
        "Moncler",
        ("MONCLER", "盟可睐"),
        "Moncler S.p.A.",
        "EUR",
        "apparel",
        (P("Maya Short Down Jacket", ("maya jacket", "羽绒服", "down jacket", "蒙口"), 1550),),
    ),
    B(
        "Supreme",
        ("SUPREME",),
        "Supreme Holdings, Inc.",
        "USD",
        "apparel",
        (P("Box Logo Hooded Sweatshirt", ("box logo", "bogo", "卫衣", "hoodie"), 168),),
    ),
    B(
        "The North Face",
        ("TNF", "北面"),
        "VF Corporation",
        "USD",
        "apparel",
        (P("1996 Retro Nuptse Jacket", ("nuptse", "1996", "北面羽绒服", "700 fill"), 330),),
    ),
    B(
        "Ralph Lauren",
        ("Polo Ralph Lauren", "拉夫劳伦", "RL"),
        "Ralph Lauren Corporation",
        "USD",
        "apparel",
        (P("Custom Slim Fit Mesh Polo", ("mesh polo", "polo衫", "pony logo", "小马标"), 110),),
    ),
    B(
        "Levi's",
        ("Levis", "LEVI'S", "李维斯"),
        "Levi Strauss & Co.",
        "USD",
        "apparel",
        (P("501 Original Fit Jeans", ("501", "original fit", "牛仔裤", "selvedge"), 98),),
    ),
    B(
        "Arc'teryx",
        ("Arcteryx", "始祖鸟", "ARC'TERYX"),
        "Amer Sports, Inc.",
        "USD",
        "apparel",
        (
            P("Beta AR Jacket", ("beta ar", "gore-tex", "冲锋衣", "硬壳"), 600),
            P("Atom Hoody", ("atom hoody", "棉服", "insulated"), 280),
        ),
    ),
    B(
        "Rolex",
        ("ROLEX", "劳力士", "勞力士"),
        "Rolex SA",
        "CHF",
        "watches",
        (
            P("Submariner Date 126610LN", ("submariner", "126610LN", "水鬼", "black dial", "oystersteel"), 10250),
            P("Daytona 126500LN", ("daytona", "126500LN", "迪通拿", "熊猫迪", "chronograph"), 14900),
            P("GMT-Master II 126710BLRO", ("gmt master", "pepsi", "百事圈", "126710"), 10700),
        ),
    ),
    B(
        "Omega",
        ("OMEGA", "欧米茄"),
        "Omega SA",
        "CHF",
        "watches",
        (
            P("Speedmaster Moonwatch Professional", ("speedmaster", "moonwatch", "超霸", "登月表"), 7200),
            P("Seamaster Diver 300M", ("seamaster 300", "海马300", "diver"), 5900),
        ),
    ),
    B(
        "Patek Philippe",
        ("PATEK PHILIPPE", "百达翡丽", "PP"),
        "Patek Philippe SA",
        "CHF",
        "watches",
        (
            P("Nautilus 5711/1A", ("nautilus", "5711", "鹦鹉螺", "blue dial"), 34890),
            P("Aquanaut 5167A", ("aquanaut", "5167", "手雷"), 23800),
        ),
    ),
    B(
        "Audemars Piguet",
        ("AP", "爱彼", "AUDEMARS PIGUET"),
        "Audemars Piguet Holding SA",
        "CHF",
        "watches",
        (P("Royal Oak 15500ST", ("royal oak", "15500", "皇家橡树", "tapisserie"), 29600),),
    ),
    B(
        "TAG Heuer",
        ("TAG", "泰格豪雅"),
        "TAG Heuer SA",
        "CHF",
        "watches",
        (P("Carrera Chronograph 42mm", ("carrera", "卡莱拉", "chronograph"), 6400),),
    ),
    B(
        "Cartier",
        ("CARTIER", "卡地亚"),
        "Cartier International AG",
        "EUR",
        "jewelry",
        (
            P("Love Bracelet", ("love bracelet", "卡地亚手镯", "screw bracelet", "18k"), 7350),
            P("Santos de Cartier Medium", ("santos", "山度士", "skeleton"), 7700),
            P("Juste un Clou Ring", ("juste un clou", "钉子戒指", "nail ring"), 2150),
        ),
    ),
    B(
        "Tiffany & Co.",
        ("Tiffany", "蒂芙尼", "TIFFANY"),
        "Tiffany and Company",
        "USD",
        "jewelry",
        (
            P("Return to Tiffany Heart Tag Necklace", ("return to tiffany", "heart tag", "蓝盒", "925 silver"), 350),
            P("T Smile Pendant", ("t smile", "微笑项链"), 1350),
        ),
    ),
    B(
        "Van Cleef & Arpels",
        ("VCA", "梵克雅宝"),
        "Van Cleef & Arpels SA",
        "EUR",
        "jewelry",
        (P("Vintage Alhambra Pendant", ("alhambra", "四叶草", "clover necklace", "mother of pearl"), 3100),),
    ),
    B(
        "Chow Tai Fook",
        ("周大福", "CTF"),
        "Chow Tai Fook Jewellery Group",
        "HKD",
        "jewelry",
        (P("999.9 Gold Bangle", ("足金手镯", "999 gold", "古法金"), 12800),),
    ),
    B(
        "Casio",
        ("CASIO", "卡西欧", "G-Shock", "G-SHOCK"),
        "Casio Computer Co., Ltd.",
        "JPY",
        "watches",
        (P("G-Shock GA-2100 CasiOak", ("ga-2100", "casioak", "农家橡树", "八角"), 16500),),
    ),
    B(
        "Seiko",
        ("SEIKO", "精工"),
        "Seiko Group Corporation",
        "JPY",
        "watches",
        (P("Presage Cocktail Time SRPB43", ("presage", "cocktail time", "鸡尾酒", "srpb43"), 60500),),
    ),
    B(
        "Apple",
        ("APPLE", "苹果", "iPhone", "AirPods"),
        "Apple Inc.",
        "USD",
        "phones",
        (
            P("iPhone 17 Pro 256GB", ("iphone 17 pro", "苹果手机", "256gb", "国行"), 1099),
            P("AirPods Pro 3", ("airpods pro", "降噪耳机", "蓝牙耳机", "magsafe"), 249),
            P("Apple Watch Series 11", ("apple watch", "智能手表", "series 11"), 399),
        ),
    ),
    B(
        "Samsung",
        ("SAMSUNG", "三星", "Galaxy"),
        "Samsung Electronics Co., Ltd.",
        "KRW",
        "phones",
        (
            P("Galaxy S26 Ultra", ("galaxy s26", "s26 ultra", "三星手机"), 1_698_400),
            P("Galaxy Buds3 Pro", ("galaxy buds", "buds3", "三星耳机"), 329_000),
        ),
    ),
    B(
        "Huawei",
        ("HUAWEI", "华为"),
        "Huawei Technologies Co., Ltd.",
        "CNY",
        "phones",
        (P("Mate 80 Pro", ("mate 80", "华为手机", "麒麟"), 6999), P("FreeBuds Pro 4", ("freebuds", "华为耳机"), 1299)),
    ),
    B(
        "Xiaomi",
        ("小米", "XIAOMI", "Mi"),
        "Xiaomi Corporation",
        "CNY",
        "phones",
        (P("Xiaomi 16 Ultra", ("xiaomi 16", "小米手机", "徕卡影像"), 6499),),
    ),
    B(
        "Sony",
        ("SONY", "索尼"),
        "Sony Group Corporation",
        "JPY",
        "electronics",
        (
            P("WH-1000XM6 Headphones", ("wh-1000xm6", "xm6", "头戴降噪", "noise cancelling"), 59400),
            P("PlayStation 5 Pro", ("ps5 pro", "playstation", "游戏机"), 119980),
        ),
    ),
    B(
        "Beats",
        ("Beats by Dr. Dre", "BEATS", "魔音"),
        "Apple Inc.",
        "USD",
        "electronics",
        (P("Studio Pro Wireless", ("studio pro", "beats耳机", "头戴式"), 349),),
    ),
    B(
        "Bose",
        ("BOSE", "博士"),
        "Bose Corporation",
        "USD",
        "electronics",
        (P("QuietComfort Ultra Earbuds", ("quietcomfort", "QC ultra", "大鲨", "降噪"), 299),),
    ),
    B(
        "Dyson",
        ("DYSON", "戴森"),
        "Dyson Technology Limited",
        "GBP",
        "electronics",
        (
            P("Supersonic Hair Dryer HD15", ("supersonic", "吹风机", "hd15"), 399),
            P("Airwrap Multi-styler", ("airwrap", "卷发棒", "美发造型器"), 479),
        ),
    ),
    B(
        "Estée Lauder",
        ("Estee Lauder", "雅诗兰黛", "EL"),
        "The Estée Lauder Companies Inc.",
        "USD",
        "cosmetics",
        (P("Advanced Night Repair Serum 50ml", ("advanced night repair", "小棕瓶", "ANR", "精华"), 115),),
    ),
    B(
        "Lancôme",
        ("Lancome", "兰蔻", "LANCOME"),
        "L'Oréal S.A.",
        "EUR",
        "cosmetics",
        (
            P("Advanced Génifique Serum 50ml", ("genifique", "小黑瓶", "精华液"), 110),
            P("La Vie Est Belle EDP 100ml", ("la vie est belle", "美丽人生", "香水"), 150),
        ),
    ),
    B(
        "SK-II",
        ("SKII", "SK2", "神仙水"),
        "Procter & Gamble",
        "JPY",
        "cosmetics",
        (P("Facial Treatment Essence 230ml", ("facial treatment essence", "神仙水", "pitera"), 29700),),
    ),
    B(
        "Shiseido",
        ("SHISEIDO", "资生堂"),
        "Shiseido Company, Limited",
        "JPY",
        "cosmetics",
        (P("Ultimune Power Infusing Concentrate", ("ultimune", "红腰子", "精华"), 13200),),
    ),
    B(
        "La Mer",
        ("LA MER", "海蓝之谜"),
        "The Estée Lauder Companies Inc.",
        "USD",
        "cosmetics",
        (P("Crème de la Mer 60ml", ("creme de la mer", "面霜", "moisturizing cream"), 380),),
    ),
    B(
        "MAC",
        ("M.A.C", "魅可", "MAC Cosmetics"),
        "The Estée Lauder Companies Inc.",
        "USD",
        "cosmetics",
        (P("Matte Lipstick Ruby Woo", ("ruby woo", "子弹头", "口红", "matte lipstick"), 25),),
    ),
    B(
        "Jo Malone London",
        ("Jo Malone", "祖玛珑"),
        "The Estée Lauder Companies Inc.",
        "GBP",
        "perfume",
        (P("Wood Sage & Sea Salt Cologne 100ml", ("wood sage", "鼠尾草海盐", "cologne"), 120),),
    ),
    B(
        "Ray-Ban",
        ("RayBan", "RAY-BAN", "雷朋"),
        "EssilorLuxottica",
        "EUR",
        "eyewear",
        (
            P("Wayfarer RB2140", ("wayfarer", "rb2140", "太阳镜", "墨镜"), 165),
            P("Aviator Classic RB3025", ("aviator", "rb3025", "飞行员墨镜"), 175),
        ),
    ),
    B(
        "Gentle Monster",
        ("GENTLE MONSTER", "GM"),
        "IICOMBINED Co., Ltd.",
        "KRW",
        "eyewear",
        (P("Lang 01 Sunglasses", ("lang 01", "gm墨镜", "黑框"), 289_000),),
    ),
    B(
        "Pop Mart",
        ("泡泡玛特", "POP MART", "Labubu"),
        "Pop Mart International Group",
        "CNY",
        "toys",
        (
            P("Labubu The Monsters Exciting Macaron Blind Box", ("labubu", "拉布布", "马卡龙", "盲盒", "搪胶毛绒"), 99),
            P("Skullpanda Blind Box", ("skullpanda", "盲盒", "手办"), 69),
        ),
    ),
    B(
        "LEGO",
        ("乐高", "Lego"),
        "LEGO A/S",
        "EUR",
        "toys",
        (
            P("Technic Lamborghini Sián 42115", ("42115", "technic", "积木", "兰博基尼"), 450),
            P("Star Wars Millennium Falcon 75192", ("75192", "千年隼", "UCS"), 850),
        ),
    ),
    B(
        "Stanley",
        ("STANLEY", "史丹利"),
        "Pacific Market International",
        "USD",
        "toys",
        (P("Quencher H2.0 FlowState Tumbler 40oz", ("quencher", "40oz tumbler", "保温杯", "吸管杯"), 45),),
    ),
)
del P, B

#: Chinese character swaps counterfeiters use to dodge keyword filters (near-homophones, look-alikes).
HAN_SWAPS: dict[str, str] = {
    "耐": "奈", "驰": "池", "儿": "尔", "士": "土", "登": "灯", "迪": "笛", "普": "谱", "力": "历",
    "香": "湘", "爱": "艾", "奥": "澳", "苹": "平", "华": "桦", "雅": "亚", "兰": "蓝", "斯": "丝",
}  # fmt: skip

#: Rates into the base currency (CNY) used for the whole synthetic year.
FX_TO_CNY: dict[str, float] = {
    "CNY": 1.0, "USD": 7.12, "EUR": 7.81, "HKD": 0.912, "JPY": 0.0478, "GBP": 9.12, "CHF": 8.26, "KRW": 0.00516,
}  # fmt: skip

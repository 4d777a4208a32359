"""Phrase lists that titles, descriptions and store names are assembled from.

Plain data, in the languages sellers write in. Counterfeit vocabulary is what a
keyword filter looks for; the hard-negative phrases are what makes such a filter wrong.
"""

from __future__ import annotations

VOCAB_EN = (
    "replica", "1:1", "AAA", "AAA+", "mirror quality", "top quality copy", "super copy", "UA",
    "unauthorized authentic", "factory original", "same as original", "high copy", "rep",
    "best version", "1:1 clone", "grade AAA", "mirror 1:1", "perfect copy",
)  # fmt: skip
VOCAB_ZH = (
    "高仿", "复刻", "原单", "A货", "莆田", "顶级版本", "1比1", "超A", "纯原", "公司级", "尾单",
    "原厂品质", "外贸原单", "高版本", "精仿", "原版复刻", "正品开模", "莆田纯原", "工厂货",
)  # fmt: skip
DUPE = (
    "dupe", "inspired by", "style", "look alike", "same style as", "alternative to", "平替",
    "同款", "类似款", "一样的款", "dupe for", "similar to",
)  # fmt: skip
#: What a counterfeiter writes to look genuine (a no-text-tell listing may say it too).
AUTHENTIC_CLAIMS = (
    "100% authentic", "正品", "专柜正品", "original", "genuine", "正品保证", "海外直邮", "代购",
    "with box and receipt", "支持验货", "官方同款", "authentic guaranteed",
)  # fmt: skip
AUTHORIZED = ("官方旗舰店", "official store", "authorized retailer", "授权经销", "专柜同步", "official")
RESELLER = ("全新正品", "brand new authentic", "海外代购", "in stock", "现货", "full set", "全套")
PRE_OWNED = (
    "二手", "pre-owned", "pre-owned, authenticated", "中古", "95新", "9成新", "used, good condition",
    "vintage", "已鉴定", "authenticated by Entrupy", "闲置转让",
)  # fmt: skip
CLEARANCE = ("clearance", "清仓", "outlet", "断码清仓", "final sale", "过季特价", "sample sale", "折扣")
#: ``{}`` takes the brand and product, e.g. "case for Apple iPhone 17 Pro".
ACCESSORY = (
    "case for {}", "compatible with {}", "replacement part for {}", "strap for {}", "{}适用 保护壳",
    "screen protector for {}", "dust bag for {}", "{}替换表带", "charging cable compatible with {}",
    "cleaning kit for {}", "shoe trees for {}", "{}兼容 充电器",
)  # fmt: skip
GUIDE = (
    "how to spot a fake {}", "{} real vs fake guide", "如何辨别{}真假", "{}鉴定指南",
    "{} authentication guide (ebook)", "avoid replica {}: legit check service", "{}真假对比 教程",
)  # fmt: skip
FILLER = (
    "free shipping", "包邮", "新款", "2026 new", "hot sale", "限时特价", "现货速发", "fast delivery",
    "gift", "送礼", "爆款", "unisex", "男女同款", "limited", "限量", "best seller", "秒发",
)  # fmt: skip
DESCRIPTION = (
    "Ships within 48 hours.", "48小时内发货。", "Size chart in photos.", "尺码请参考图片。",
    "Contact us for more colours.", "更多颜色请咨询客服。", "Returns accepted within 7 days.",
    "七天无理由退换。", "Real photos, what you see is what you get.", "实拍图，所见即所得。",
    "Packed carefully.", "包装完好。", "Questions welcome.", "有问题请留言。",
)  # fmt: skip

#: Ordinary goods: (title, catalogue category path, typical price in CNY).
ORDINARY_GOODS = (
    ("Women's cotton T-shirt", "apparel/tops", 49), ("纯棉短袖T恤", "apparel/tops", 39),
    ("Men's slim chinos", "apparel/trousers", 129), ("加绒卫衣", "apparel/tops", 89),
    ("Stainless steel vacuum flask 500ml", "home/kitchen", 59), ("不锈钢保温杯", "home/kitchen", 45),
    ("Non-stick frying pan 28cm", "home/kitchen", 99), ("陶瓷马克杯", "home/kitchen", 25),
    ("Canvas tote bag", "bags/totes", 35), ("双肩包 学生书包", "bags/backpacks", 79),
    ("Running shoes breathable mesh", "shoes/sports", 159), ("休闲板鞋", "shoes/casual", 119),
    ("Quartz wrist watch leather strap", "watches/wristwatches", 89), ("电子手表 学生", "watches/wristwatches", 39),
    ("Bluetooth earbuds", "electronics/audio", 69), ("USB-C fast charger 65W", "electronics/accessories", 79),
    ("Phone holder for car", "electronics/accessories", 29), ("移动电源 20000mAh", "electronics/accessories", 99),
    ("Hyaluronic acid face serum", "beauty/skincare", 69), ("保湿面霜", "beauty/skincare", 59),
    ("Polarized sunglasses", "accessories/sunglasses", 49), ("925银 项链 简约", "accessories/jewelry", 129),
    ("Building blocks set 1000 pcs", "toys/building", 139), ("毛绒玩具 公仔", "toys/plush", 49),
    ("Yoga mat 6mm", "sports/fitness", 69), ("LED desk lamp", "home/lighting", 89),
    ("Wool scarf", "apparel/accessories", 99), ("羽绒服 轻薄款", "apparel/outerwear", 299),
)  # fmt: skip
ADJECTIVES = (
    "new",
    "新款",
    "classic",
    "经典",
    "2026",
    "premium",
    "高品质",
    "ins风",
    "韩版",
    "复古",
    "minimalist",
    "潮流",
)

#: Store name parts. Counterfeit operators borrow the look of genuine shops.
STORE_HEADS = (
    "潮", "优品", "Sneaker", "Luxury", "精品", "时尚", "Trend", "Style", "名品", "Urban", "Vintage",
    "鞋柜", "小铺", "Elite", "Prime", "Global", "奢品", "Hype", "东方", "Lucky", "星辰", "Golden",
)  # fmt: skip
STORE_TAILS = (
    "工作室", "Store", "Shop", "旗舰店", "专营店", "Outlet", "House", "集合店", "Boutique", "小店",
    "Collective", "Mall", "Corner", "优选", "严选", "工厂店", "Club", "Hub",
)  # fmt: skip

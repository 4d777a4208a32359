"""Places, people and providers that store identifiers are made of (plain data).

Chinese and pinyin spellings side by side, because sellers enter either, and the
same operator enters both.
"""

from __future__ import annotations

#: (province zh, province pinyin, ISO 3166-2, city zh, city pinyin, ((district zh, district pinyin), ...))
CITIES = (
    ("浙江省", "Zhejiang", "CN-ZJ", "杭州市", "Hangzhou", (("余杭区", "Yuhang"), ("西湖区", "Xihu"), ("滨江区", "Binjiang"))),
    ("浙江省", "Zhejiang", "CN-ZJ", "义乌市", "Yiwu", (("稠城街道", "Choucheng"), ("北苑街道", "Beiyuan"))),
    ("广东省", "Guangdong", "CN-GD", "广州市", "Guangzhou", (("白云区", "Baiyun"), ("天河区", "Tianhe"), ("越秀区", "Yuexiu"))),
    ("广东省", "Guangdong", "CN-GD", "深圳市", "Shenzhen", (("龙岗区", "Longgang"), ("宝安区", "Bao'an"), ("福田区", "Futian"))),
    ("广东省", "Guangdong", "CN-GD", "东莞市", "Dongguan", (("厚街镇", "Houjie"), ("虎门镇", "Humen"))),
    ("福建省", "Fujian", "CN-FJ", "莆田市", "Putian", (("荔城区", "Licheng"), ("城厢区", "Chengxiang"), ("涵江区", "Hanjiang"))),
    ("福建省", "Fujian", "CN-FJ", "泉州市", "Quanzhou", (("晋江市", "Jinjiang"), ("丰泽区", "Fengze"))),
    ("江苏省", "Jiangsu", "CN-JS", "苏州市", "Suzhou", (("工业园区", "Industrial Park"), ("吴中区", "Wuzhong"))),
    ("上海市", "Shanghai", "CN-SH", "上海市", "Shanghai", (("浦东新区", "Pudong"), ("静安区", "Jing'an"), ("徐汇区", "Xuhui"))),
    ("北京市", "Beijing", "CN-BJ", "北京市", "Beijing", (("朝阳区", "Chaoyang"), ("海淀区", "Haidian"))),
    ("山东省", "Shandong", "CN-SD", "青岛市", "Qingdao", (("市南区", "Shinan"), ("黄岛区", "Huangdao"))),
    ("河北省", "Hebei", "CN-HE", "石家庄市", "Shijiazhuang", (("长安区", "Chang'an"), ("桥西区", "Qiaoxi"))),
    ("四川省", "Sichuan", "CN-SC", "成都市", "Chengdu", (("武侯区", "Wuhou"), ("锦江区", "Jinjiang"))),
    ("湖北省", "Hubei", "CN-HB", "武汉市", "Wuhan", (("江汉区", "Jianghan"), ("洪山区", "Hongshan"))),
    ("河南省", "Henan", "CN-HA", "郑州市", "Zhengzhou", (("金水区", "Jinshui"), ("二七区", "Erqi"))),
)  # fmt: skip
#: Regions each kind of seller registers in: ISO 3166-2 code -> weight.
COUNTERFEIT_REGIONS = {
    "CN-FJ": 0.32,
    "CN-GD": 0.35,
    "CN-ZJ": 0.18,
    "CN-JS": 0.05,
    "CN-SH": 0.03,
    "CN-HE": 0.03,
    "CN-SD": 0.04,
}
LEGIT_REGIONS = {
    "CN-ZJ": 0.2, "CN-GD": 0.2, "CN-SH": 0.15, "CN-BJ": 0.12, "CN-JS": 0.1, "CN-FJ": 0.05,
    "CN-SD": 0.05, "CN-SC": 0.05, "CN-HB": 0.04, "CN-HA": 0.04,
}  # fmt: skip
#: country -> (weight for counterfeit sellers, weight for legit sellers, currency, regions)
COUNTRIES: dict[str, tuple[float, float, str, tuple[str, ...]]] = {
    "CN": (0.93, 0.82, "CNY", ()),
    "HK": (0.05, 0.05, "HKD", ()),  # pycountry has no HK subdivisions: region left empty
    "US": (0.01, 0.04, "USD", ("US-CA", "US-NY", "US-NJ")),
    "JP": (0.0, 0.03, "JPY", ("JP-13", "JP-27")),
    "DE": (0.0, 0.02, "EUR", ("DE-BY", "DE-BE", "DE-HH")),
    "GB": (0.0, 0.02, "GBP", ("GB-LND", "GB-MAN")),
    "FR": (0.005, 0.01, "EUR", ("FR-75C",)),
    "IT": (0.005, 0.01, "EUR", ("IT-MI",)),
}
#: Where buyers are: ISO 3166-2 -> weight.
BUYER_REGIONS = {
    "CN-GD": 0.13, "CN-ZJ": 0.1, "CN-JS": 0.1, "CN-SH": 0.08, "CN-BJ": 0.07, "CN-SD": 0.07, "CN-SC": 0.06,
    "CN-HB": 0.05, "CN-HA": 0.05, "CN-FJ": 0.04, "CN-HE": 0.04, "CN-HN": 0.03, "CN-AH": 0.03, "CN-CQ": 0.03,
    "CN-LN": 0.02, "CN-SN": 0.02, "CN-TJ": 0.02, "CN-HK": 0.02, "US-CA": 0.01, "US-NY": 0.01, "DE-BY": 0.01,
    "GB-LND": 0.01, "JP-13": 0.01,
}  # fmt: skip

STREETS = (
    ("人民路", "Renmin"), ("中山路", "Zhongshan"), ("解放路", "Jiefang"), ("建设路", "Jianshe"),
    ("文一西路", "Wenyi West"), ("工业大道", "Gongye"), ("科技园路", "Kejiyuan"), ("长江路", "Changjiang"),
    ("新华路", "Xinhua"), ("学院路", "Xueyuan"), ("黄河路", "Huanghe"), ("商贸城路", "Shangmaocheng"),
)  # fmt: skip
SURNAMES = (("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
            ("黄", "Huang"), ("赵", "Zhao"), ("吴", "Wu"), ("周", "Zhou"), ("徐", "Xu"), ("林", "Lin"))  # fmt: skip
GIVEN_NAMES = (("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"), ("强", "Qiang"),
               ("磊", "Lei"), ("洋", "Yang"), ("艳", "Yan"), ("勇", "Yong"), ("军", "Jun"), ("杰", "Jie"),
               ("志强", "Zhiqiang"), ("秀英", "Xiuying"), ("建华", "Jianhua"), ("海燕", "Haiyan"))  # fmt: skip
#: Providers and whether they ignore dots and ``+tags`` in the local part (gmail-like).
EMAIL_DOMAINS = (("qq.com", False), ("163.com", False), ("126.com", False), ("gmail.com", True),
                 ("outlook.com", False), ("hotmail.com", False), ("sina.com", False), ("foxmail.com", False),
                 ("yahoo.com", False))  # fmt: skip
BANKS = ("ICBC", "中国工商银行", "CCB", "建设银行", "ABC", "农业银行", "BOC", "招商银行")
#: Six-digit administrative division codes opening ID numbers and licence numbers.
DIVISION_CODES = ("350302", "350303", "350322", "440111", "440307", "441900", "330782", "330110", "310115", "110105")

#: Identifiers shared by many unrelated legitimate stores. Linking on them would merge strangers.
DECOYS: tuple[tuple[str, str], ...] = (
    ("warehouse", "浙江省金华市义乌市北苑街道春华路1088号 菜鸟义乌中心仓"),
    ("warehouse", "广东省广州市白云区太和镇永兴村 京东物流华南亚洲一号仓"),
    ("address", "上海市青浦区华新镇华志路1685号 跨境电商产业园"),
    ("return_address", "广东省东莞市虎门镇 顺丰退货集运中心"),
    ("phone", "95338"),  # SF Express hotline
    ("phone", "400-811-1111"),  # a logistics company's service number
    ("contact_name", "王伟"),  # the most common name in China
    ("contact_name", "张伟"),
    ("ip", "120.26.33.17"),  # a shared co-working office's exit address
    ("ip", "47.98.102.5"),
    ("payment_account", "2088 1020 3040 5060"),  # a payment aggregator's settlement account
    ("warehouse", "Cainiao Yiwu Central Warehouse, 1088 Chunhua Rd, Yiwu"),
)  # fmt: skip
#: Values entered to get past a form: valid rows that linking must treat as unusable.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "phone": ("000000", "00000000000", "13800000000", "n/a"),
    "email": ("test@test.com", "a@a.com", "none@none.com", "n/a"),
    "id_number": ("000000000000000000", "n/a", "无"),
    "business_license": ("无", "n/a", "000000"),
    "bank_account": ("000000", "n/a", ""),
    "payment_account": ("n/a", "", "000000"),
    "address": ("n/a", "无", "-", ""),
    "return_address": ("同上", "n/a", ""),
    "warehouse": ("n/a", ""),
    "device_id": ("00000000-0000-0000-0000-000000000000", "unknown"),
    "ip": ("0.0.0.0", "127.0.0.1"),
    "contact_name": ("n/a", "店主", "test"),
}

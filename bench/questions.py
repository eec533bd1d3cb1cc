"""A labelled evaluation set for grouping: 20 intents in English and 20 in Russian, 15 wordings
each (five ways of asking, in three settings: bare, with a greeting, with a detail around it).
Written for this project; no outside data."""

from __future__ import annotations

ENGLISH = {
    "refund": ["how do I get a refund", "can I get my money back", "refund my order please",
               "I want a refund", "what is your refund policy"],
    "delivery-time": ["how long does delivery take", "when will my order arrive",
                      "how many days is shipping", "delivery time?", "how fast do you ship"],
    "track": ["where is my parcel", "how can I track my order", "tracking number for my order",
              "my package has not arrived", "track my shipment"],
    "student": ["do you have a student discount", "is there a discount for students",
                "student discount available?", "discount for students",
                "students get cheaper prices?"],
    "card": ["can I pay by card", "do you accept credit cards", "card payment possible?",
             "pay with visa or mastercard", "is paying by card ok"],
    "password": ["I forgot my password", "how do I reset my password", "password reset not working",
                 "can't remember my password", "change my password"],
    "crash": ["the app crashes on start", "app keeps crashing", "your app crashed again",
              "application crashes when I open it", "crash after the update"],
    "cancel": ["how do I cancel my subscription", "cancel my plan", "I want to unsubscribe",
               "stop my subscription", "cancel subscription please"],
    "invoice": ["I need an invoice", "can you send me an invoice", "where is my invoice",
                "invoice for my company", "bill with VAT please"],
    "size": ["which size should I pick", "size chart please", "does this run small",
             "what size fits me", "sizing guide"],
    "stock": ["is this item in stock", "when will it be back in stock", "out of stock?",
              "do you have it in stock", "restock date"],
    "warranty": ["what is the warranty", "how long is the guarantee", "warranty period?",
                 "is it covered by warranty", "guarantee on this product"],
    "address": ["can I change my delivery address", "wrong address on my order",
                "update shipping address", "change the address please", "I moved, new address"],
    "login": ["I can't log in", "login does not work", "cannot sign in to my account",
              "sign in error", "my account is locked"],
    "gift": ["do you sell gift cards", "can I buy a gift card", "gift certificate?",
             "gift voucher for a friend", "present card"],
    "hours": ["what are your opening hours", "when are you open", "are you open on sunday",
              "opening times", "working hours of the shop"],
    "international": ["do you ship abroad", "international shipping?", "can you deliver to germany",
                      "shipping outside the country", "worldwide delivery"],
    "discount-code": ["my discount code does not work", "promo code invalid", "coupon not accepted",
                      "the promo code fails", "voucher code error"],
    "exchange": ["can I exchange for another size", "swap the item for a different color",
                 "exchange my purchase", "replace with another model", "exchange policy"],
    "human": ["can I talk to a person", "I want a real human", "connect me to support staff",
              "is there someone to talk to", "let me speak with someone"],
}  # fmt: skip
RUSSIAN = {
    "vozvrat": ["как вернуть деньги", "хочу вернуть товар", "оформить возврат",
                "верните деньги за заказ", "условия возврата"],
    "srok": ["сколько идёт доставка", "когда привезут заказ", "срок доставки",
             "через сколько дней доставят", "как быстро доставляете"],
    "trek": ["где моя посылка", "как отследить заказ", "трек номер заказа",
             "посылка не пришла", "отслеживание отправления"],
    "student": ["есть ли скидка для студентов", "студенческая скидка", "скидки студентам есть",
                "скидка студенту", "студентам дешевле"],
    "karta": ["можно оплатить картой", "принимаете банковские карты", "оплата картой возможна",
              "заплатить картой", "оплата по карте"],
    "parol": ["забыл пароль", "как сбросить пароль", "не работает восстановление пароля",
              "не помню пароль", "сменить пароль"],
    "vylet": ["приложение вылетает", "приложение падает при запуске", "программа закрывается сама",
              "вылет после обновления", "постоянно вылетает приложение"],
    "otmena": ["как отменить подписку", "отмените мою подписку", "хочу отписаться",
               "отключить подписку", "отмена подписки"],
    "schet": ["нужен счёт для оплаты", "пришлите счёт", "счёт на организацию",
              "где мой счёт", "счёт с ндс"],
    "razmer": ["какой размер выбрать", "таблица размеров", "маломерит или нет",
               "подскажите размер", "размерная сетка"],
    "nalichie": ["есть ли в наличии", "когда появится в наличии", "товара нет в наличии",
                 "наличие товара", "будет ли поступление"],
    "garantiya": ["какая гарантия", "сколько гарантийный срок", "гарантия на товар",
                  "это гарантийный случай", "срок гарантии"],
    "adres": ["изменить адрес доставки", "неверный адрес в заказе", "поменять адрес",
              "обновите адрес доставки", "новый адрес для заказа"],
    "vhod": ["не могу войти", "не получается войти в аккаунт", "ошибка входа",
             "аккаунт заблокирован", "вход не работает"],
    "sertifikat": ["есть подарочные сертификаты", "купить подарочный сертификат",
                   "подарочная карта", "сертификат в подарок", "подарочный сертификат другу"],
    "chasy": ["часы работы магазина", "когда вы открыты", "работаете в воскресенье",
              "режим работы", "во сколько открываетесь"],
    "zagranica": ["доставляете за границу", "доставка в казахстан", "международная доставка",
                  "отправка в другие страны", "доставка за рубеж"],
    "promokod": ["промокод не работает", "не принимается промокод", "купон не применяется",
                 "ошибка промокода", "промокод недействителен"],
    "obmen": ["можно обменять на другой размер", "обмен товара", "поменять на другой цвет",
              "хочу обменять покупку", "условия обмена"],
    "chelovek": ["позовите оператора", "хочу поговорить с человеком", "соедините с менеджером",
                 "нужен живой человек", "свяжите со специалистом"],
}  # fmt: skip
SETTINGS = {
    "english": ["{}", "hi, {}?", "{} - I ordered last week, thanks"],
    "russian": ["{}", "здравствуйте, {}?", "{}, заказ был на прошлой неделе, спасибо"],
}


def labelled() -> list[tuple[str, str]]:
    """(question, intent) pairs: 600 in all."""
    pairs = []
    for language, intents in (("english", ENGLISH), ("russian", RUSSIAN)):
        for intent, wordings in intents.items():
            for setting in SETTINGS[language]:
                pairs += [(setting.format(w), f"{language}:{intent}") for w in wordings]
    return pairs

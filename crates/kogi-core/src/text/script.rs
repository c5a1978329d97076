//! The script of a character, decided once for every part of kogi that cuts Japanese text where
//! the script changes: sentence splitting, BM25 query runs, glossary whole-term checks and the
//! suspicious-span scan. A caller that groups scripts differently (BM25 keeps every letter and digit
//! in one run; the glossary lets digits continue a Latin word) does so with a `match` over
//! [`Script`], never with a classifier of its own.

/// What kind of character: see [`script`] for the characters at the edges of each class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Script {
    /// CJK ideographs (every block and extension) and the marks that stand for one inside a kanji
    /// word: 々 〻 〆 〇.
    Kanji,
    Hiragana,
    /// Full-width and half-width katakana, the phonetic extensions, and the prolonged sound mark ー.
    Katakana,
    /// Letters of the Latin alphabet: ASCII, accented (Latin-1, Latin Extended-A/B and Additional)
    /// and full-width.
    Latin,
    /// The digits 0–9, ASCII or full-width.
    Digit,
    /// Letters and numerals of every other script: Greek, Cyrillic, Hangul, …, and numerals such as
    /// ² ① Ⅳ.
    OtherLetter,
    /// Whitespace, including line breaks and the ideographic space U+3000.
    Space,
    /// Everything else: punctuation (、。「」・), symbols, control characters.
    Punctuation,
}

/// The script of `c`. The edge cases, decided once:
///
/// * 「・」 (U+30FB) and 「゠」 (U+30A0) are [`Script::Punctuation`], though they sit in the katakana
///   block: they separate words (「ニューラル・ネットワーク」), they are not part of one.
/// * 「ー」 (U+30FC) is [`Script::Katakana`]: it lengthens a vowel inside katakana words
///   (「スケーリング」). Hiragana words use it too in casual writing (「すげー」); a caller that wants
///   it to continue a hiragana word handles that itself.
/// * 「々」 (U+3005) and 「〻」 (U+303B) are [`Script::Kanji`]: they repeat the kanji before them
///   inside one word (「人々」). So are 「〆」 (U+3006), a kanji-like abbreviation, and 「〇」 (U+3007),
///   written as the numeral kanji zero (「二〇二四年」).
/// * Every CJK ideograph is [`Script::Kanji`]: Extension A (U+3400–4DBF), the main block
///   (U+4E00–9FFF), the compatibility ideographs (U+F900–FAFF) and Extensions B–F and beyond in
///   planes 2 and 3 (U+20000–2FA1F, U+30000–323AF) — 「𠮷」 is as much a kanji as 「吉」.
/// * Half-width katakana (U+FF66–FF9F, 「ｶﾀｶﾅ」, with their ｰ and voiced marks) and the katakana
///   phonetic extensions (U+31F0–31FF, 「ㇰ」) are [`Script::Katakana`]. Hiragana is U+3041–309F,
///   with the voiced sound marks and 「ゝゞ」.
/// * Full-width letters (Ａ–Ｚ, ａ–ｚ) are [`Script::Latin`] and full-width digits (０–９)
///   [`Script::Digit`]: the same word as the ASCII one.
/// * Any other letter or number is [`Script::OtherLetter`]; whitespace is [`Script::Space`]; the
///   rest (punctuation, symbols, controls) is [`Script::Punctuation`].
pub fn script(c: char) -> Script {
    match c {
        '々' | '〆' | '〇' | '〻' => Script::Kanji,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' => Script::Kanji,
        '\u{20000}'..='\u{2FA1F}' | '\u{30000}'..='\u{323AF}' => Script::Kanji,
        '\u{3041}'..='\u{309F}' => Script::Hiragana,
        '・' | '゠' => Script::Punctuation,
        '\u{30A1}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}' => Script::Katakana,
        '0'..='9' | '０'..='９' => Script::Digit,
        'A'..='Z' | 'a'..='z' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => Script::Latin,
        '\u{C0}'..='\u{24F}' | '\u{1E00}'..='\u{1EFF}' if c.is_alphabetic() => Script::Latin,
        c if c.is_whitespace() => Script::Space,
        c if c.is_alphanumeric() => Script::OtherLetter,
        _ => Script::Punctuation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<Script> {
        s.chars().map(script).collect()
    }

    #[test]
    fn nakaguro_is_punctuation_between_katakana_words() {
        assert_eq!(all("ン・ネ"), [Script::Katakana, Script::Punctuation, Script::Katakana]);
        assert_eq!(script('゠'), Script::Punctuation);
        assert_eq!(script('･'), Script::Punctuation, "half-width ・");
    }

    #[test]
    fn prolonged_sound_mark_is_katakana_even_after_hiragana() {
        assert_eq!(all("スケー"), [Script::Katakana; 3]);
        assert_eq!(all("げー"), [Script::Hiragana, Script::Katakana]);
        assert_eq!(script('ｰ'), Script::Katakana, "half-width ー");
    }

    #[test]
    fn iteration_mark_and_ideographic_zero_are_kanji() {
        assert_eq!(all("人々"), [Script::Kanji; 2]);
        assert_eq!(all("二〇二四"), [Script::Kanji; 4]);
        assert_eq!(all("〻〆"), [Script::Kanji; 2]);
    }

    #[test]
    fn half_width_katakana_is_katakana() {
        assert_eq!(all("ｶﾀｶﾅﾞ"), [Script::Katakana; 5]);
        assert_eq!(script('ㇰ'), Script::Katakana, "phonetic extension");
    }

    #[test]
    fn ideographs_of_every_extension_are_kanji() {
        assert_eq!(script('\u{20BB7}'), Script::Kanji, "𠮷, extension B");
        assert_eq!(script('\u{3400}'), Script::Kanji, "extension A");
        assert_eq!(script('\u{F900}'), Script::Kanji, "compatibility ideograph");
        assert_eq!(script('\u{30000}'), Script::Kanji, "extension G");
        assert_eq!(all("則吉"), [Script::Kanji; 2]);
    }

    #[test]
    fn full_width_letters_are_latin_and_full_width_digits_are_digits() {
        assert_eq!(all("Ａｚ"), [Script::Latin; 2]);
        assert_eq!(all("０９"), [Script::Digit; 2]);
    }

    #[test]
    fn hiragana_is_hiragana_with_its_voiced_marks_and_repeat_marks() {
        assert_eq!(all("すけるゝ゛"), [Script::Hiragana; 5]);
    }

    #[test]
    fn ascii_letters_are_latin_digits_digits_and_the_rest_punctuation() {
        assert_eq!(all("GPT4"), [Script::Latin, Script::Latin, Script::Latin, Script::Digit]);
        assert_eq!(all("-.?\""), [Script::Punctuation; 4]);
        assert_eq!(all("、。「」"), [Script::Punctuation; 4]);
        assert_eq!(script('é'), Script::Latin);
        assert_eq!(script('×'), Script::Punctuation);
        assert_eq!(all("λ①"), [Script::OtherLetter; 2]);
    }

    #[test]
    fn spaces_include_the_ideographic_space_and_line_breaks() {
        assert_eq!(all(" \u{3000}\t\n"), [Script::Space; 4]);
    }
}

//! QQ's classic faces by name, for outgoing text: Mojo-Webqq turned `[微笑]`
//! in what a client sent into the face itself (openqq-original.md §4.7), and
//! old clients and bots still write faces that way. Only these names become
//! faces; any other bracketed text (`[图片]`, `[CQ:at,qq=all]`) stays text.
//!
//! The ids are QQ's system face ids (OneBot's `face` segment `id`); the
//! names are the ones the Webqq era used, plus today's names for the four
//! that QQ renamed (悠闲, 赞, 踩, 左亲亲).

/// `(name, face id)`, the 105 faces of Webqq's table and the 4 new names.
const FACES: &[(&str, u16)] = &[
    ("惊讶", 0),
    ("撇嘴", 1),
    ("色", 2),
    ("发呆", 3),
    ("得意", 4),
    ("流泪", 5),
    ("害羞", 6),
    ("闭嘴", 7),
    ("睡", 8),
    ("大哭", 9),
    ("尴尬", 10),
    ("发怒", 11),
    ("调皮", 12),
    ("呲牙", 13),
    ("微笑", 14),
    ("难过", 15),
    ("酷", 16),
    ("抓狂", 18),
    ("吐", 19),
    ("偷笑", 20),
    ("可爱", 21),
    ("白眼", 22),
    ("傲慢", 23),
    ("饥饿", 24),
    ("困", 25),
    ("惊恐", 26),
    ("流汗", 27),
    ("憨笑", 28),
    ("大兵", 29),
    ("悠闲", 29),
    ("奋斗", 30),
    ("咒骂", 31),
    ("疑问", 32),
    ("嘘", 33),
    ("晕", 34),
    ("折磨", 35),
    ("衰", 36),
    ("骷髅", 37),
    ("敲打", 38),
    ("再见", 39),
    ("发抖", 41),
    ("爱情", 42),
    ("跳跳", 43),
    ("猪头", 46),
    ("拥抱", 49),
    ("蛋糕", 53),
    ("闪电", 54),
    ("炸弹", 55),
    ("刀", 56),
    ("足球", 57),
    ("便便", 59),
    ("咖啡", 60),
    ("饭", 61),
    ("玫瑰", 63),
    ("凋谢", 64),
    ("爱心", 66),
    ("心碎", 67),
    ("礼物", 69),
    ("太阳", 74),
    ("月亮", 75),
    ("强", 76),
    ("赞", 76),
    ("弱", 77),
    ("踩", 77),
    ("握手", 78),
    ("胜利", 79),
    ("飞吻", 85),
    ("怄火", 86),
    ("西瓜", 89),
    ("冷汗", 96),
    ("擦汗", 97),
    ("抠鼻", 98),
    ("鼓掌", 99),
    ("糗大了", 100),
    ("坏笑", 101),
    ("左哼哼", 102),
    ("右哼哼", 103),
    ("哈欠", 104),
    ("鄙视", 105),
    ("委屈", 106),
    ("快哭了", 107),
    ("阴险", 108),
    ("亲亲", 109),
    ("左亲亲", 109),
    ("吓", 110),
    ("可怜", 111),
    ("菜刀", 112),
    ("啤酒", 113),
    ("篮球", 114),
    ("乒乓", 115),
    ("示爱", 116),
    ("瓢虫", 117),
    ("抱拳", 118),
    ("勾引", 119),
    ("拳头", 120),
    ("差劲", 121),
    ("爱你", 122),
    ("NO", 123),
    ("OK", 124),
    ("转圈", 125),
    ("磕头", 126),
    ("回头", 127),
    ("跳绳", 128),
    ("挥手", 129),
    ("激动", 130),
    ("街舞", 131),
    ("献吻", 132),
    ("左太极", 133),
    ("右太极", 134),
];

/// The face id of `name` (without brackets), if it is one of the table's.
pub fn id_of(name: &str) -> Option<u16> {
    FACES.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
}

/// A piece of outgoing text: plain text, or a face.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Face(u16),
}

/// Splits `content` at every `[name]` whose name is a face; everything
/// else, brackets included, is text.
pub fn split(content: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut text_from = 0;
    let mut search_from = 0;
    while let Some(open) = content[search_from..].find('[').map(|i| search_from + i) {
        // Face names are short; a `]` further away is not a face's.
        let Some(close) = content[open + 1..]
            .char_indices()
            .take(4)
            .find(|(_, c)| *c == ']')
            .map(|(i, _)| open + 1 + i)
        else {
            search_from = open + 1;
            continue;
        };
        match id_of(&content[open + 1..close]) {
            Some(id) => {
                if open > text_from {
                    pieces.push(Piece::Text(&content[text_from..open]));
                }
                pieces.push(Piece::Face(id));
                text_from = close + 1;
                search_from = close + 1;
            }
            None => search_from = open + 1,
        }
    }
    if text_from < content.len() {
        pieces.push(Piece::Text(&content[text_from..]));
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use Piece::{Face, Text};

    #[test]
    fn names_become_faces_and_other_brackets_stay_text() {
        assert_eq!(split("你好[微笑]"), vec![Text("你好"), Face(14)]);
        assert_eq!(
            split("[强][OK]x[右太极]"),
            vec![Face(76), Face(124), Text("x"), Face(134)]
        );
        assert_eq!(
            split("[图片][CQ:at,qq=all]"),
            vec![Text("[图片][CQ:at,qq=all]")]
        );
        assert_eq!(split("[[微笑]]"), vec![Text("["), Face(14), Text("]")]);
        assert_eq!(split("[微笑"), vec![Text("[微笑")]);
        assert_eq!(split(""), vec![]);
        assert_eq!(split("a]b[c"), vec![Text("a]b[c")]);
    }

    #[test]
    fn the_table_has_webqqs_105_faces_with_unique_ids_per_name() {
        let mut names: Vec<&str> = FACES.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FACES.len(), "a name appears twice");
        let mut ids: Vec<u16> = FACES.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 105);
        assert!(ids.iter().all(|&id| id <= 134));
    }
}
